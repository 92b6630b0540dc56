/** The uid and gid Istio's sidecar runs as, and that ISTIO_OUTPUT exempts from capture. */
export const ISTIO_PROXY_UID = 1337;
