// The kind backend's public API: what the CLI, the scripts and (later) the runner call.
export { UNPINNED, ISTIO_VERSION, KIND_VERSION, KIND_NODE_IMAGE, ISTIOCTL_ARTIFACTS, IMAGES, TOOL_PINS, imageRef, kindPins, missingPins, hostPlatform, type KindPins, type PinnedImage, type PinnedArtifact } from './versions.ts';
export { LAB_LABEL, POD_LABEL, CREATED_BY, CREATED_BY_ANNOTATION, DRY_RUN_ID, clusterName, contextName, nodeContainer, labIdOf, checkLabId, newKindLabId } from './labels.ts';
export { planKindLab, planKindDown, formatKindPlan, externalNetworkCreateArgv, EXTERNAL_NETWORK, type KindPlan, type KindStep, type KindPlanInput, type KindDownPlan } from './plan.ts';
export { LAB_DIR, LAB_WORKLOAD_FILES, parseManifestText, renderManifest, labelAndPin, scenarioLabObjects, scenarioSetupObjects, istioOperatorFor, type K8sObject, type Manifest } from './manifests.ts';
export { planScenarioSetup, type SetupPlan, type SetupPlanInput, type SetupRole } from './setup.ts';
export { listenerSnapshot, waitForListeners, type ListenerSnapshot, type WaitResult } from './listener-wait.ts';
export { decideContext, type ContextFacts, type GuardDecision, type GuardOverride } from './guard.ts';
export { kindLab, KindLab, StartedKindLab, KindEnvironmentError, runKindSteps, listKindLabs, readLabFiles, checkContext, type Runner, type StepEvent } from './kind-lab.ts';
export { PodExecClient, exitCodeOfStatus, type PodExecTarget, type PodExecOptions } from './exec-client.ts';
export { tcpdumpArgv, captureContainer, envoyAdminArgv, containerIdOf, nodeContainerPidArgv, inPodNetnsArgv, iptablesSaveArgv, kernelTraceArgvs, controlSynArgv, backgroundStartArgv, backgroundReadyArgv, backgroundStopArgv, nodeBackground, accessLogArgv, PROXY_CONTAINER, CAPTURE_CONTAINER, PROXY_USER, type Pid, type IptablesFlavour } from './evidence.ts';
export { accessLogLineOf, accessLogTokens, LAB_ACCESS_LOG_FIELDS } from './access-log.ts';
export { ensureIstioctl, verifySha256, sha256File, ChecksumError, defaultCacheDir } from './istioctl-cache.ts';
export { parseAccessLogLine, type AccessLogEntry } from './access-log.ts';
export { runDoctor, formatDoctor, type DoctorReport, type DoctorCheck } from './doctor.ts';
export { startExternals, dockerAvailable, COMPOSE_FILE, type StartedExternals } from './externals.ts';
