// pathlab-istiod-gen: istiod's own configuration generation for sidecars, without a cluster.
// It runs Istio's fake discovery server (istio.io/istio/pilot/test/xds: istiod's Kubernetes
// service registry over a fake clientset, its config stores, its ConfigGen) on the objects it is
// given, and prints, for each proxy asked for, the listeners, clusters, routes and endpoints
// istiod would push to it, as an Envoy admin config_dump. The conversion of Kubernetes and Istio
// objects is Istio's own code: this program only feeds it and prints what it made.
//
// Input (stdin, JSON):
//
//	{"kubernetes": "<YAML documents: Services, Pods, EndpointSlices, Namespaces>",
//	 "istio": "<YAML documents: ServiceEntry, Sidecar, VirtualService, DestinationRule, PeerAuthentication…>",
//	 "meshConfig": "<MeshConfig YAML>",
//	 "proxies": [{"name": "app", "namespace": "default", "ip": "10.64.0.20", "labels": {"app": "app"}, "interceptionMode": "REDIRECT"}]}
//
// Output (stdout, JSON): {"proxies": [{"name": "app", "namespace": "default", "configDump": {...}}]}
//
// istiod's features are read from its environment when it starts: the caller sets them
// (src/istio/istiod-gen.ts), e.g. PILOT_ENABLE_METADATA_EXCHANGE=false for upstream Envoy.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	admin "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/log"
)

type proxySpec struct {
	Name             string            `json:"name"`
	Namespace        string            `json:"namespace"`
	IP               string            `json:"ip"`
	Labels           map[string]string `json:"labels"`
	InterceptionMode string            `json:"interceptionMode"`
}

type input struct {
	Kubernetes string      `json:"kubernetes"`
	Istio      string      `json:"istio"`
	MeshConfig string      `json:"meshConfig"`
	Proxies    []proxySpec `json:"proxies"`
}

// failer is what the fake discovery server reports its failures to: a failure ends the program.
type failer struct{ cleanups []func() }

func (f *failer) Fail()    { fmt.Fprintln(os.Stderr, "istiod-gen: failed"); os.Exit(1) }
func (f *failer) FailNow() { f.Fail() }
func (f *failer) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"istiod-gen:"}, args...)...)
	os.Exit(1)
}
func (f *failer) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *failer) Helper()                           {}
func (f *failer) Log(args ...any)                   { fmt.Fprintln(os.Stderr, args...) }
func (f *failer) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (f *failer) TempDir() string {
	d, err := os.MkdirTemp("", "istiod-gen-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
func (f *failer) Skip(args ...any)  { f.Fatal(args...) }
func (f *failer) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func anyOf(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen:", err)
		os.Exit(1)
	}
	return a
}

func main() {
	// istiod logs to stdout by default: the config dumps go there, its log to stderr (quiet).
	logOpts := log.DefaultOptions()
	logOpts.OutputPaths = []string{"stderr"}
	logOpts.ErrorOutputPaths = []string{"stderr"}
	logOpts.SetDefaultOutputLevel(log.DefaultScopeName, log.ErrorLevel)
	if err := log.Configure(logOpts); err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: logging:", err)
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: reading stdin:", err)
		os.Exit(2)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: the input is not JSON of the expected shape:", err)
		os.Exit(2)
	}
	meshConfig := mesh.DefaultMeshConfig()
	if in.MeshConfig != "" {
		mc, err := mesh.ApplyMeshConfigDefaults(in.MeshConfig)
		if err != nil {
			fmt.Fprintln(os.Stderr, "istiod-gen: meshConfig:", err)
			os.Exit(2)
		}
		meshConfig = mc
	}
	f := &failer{}
	defer func() {
		for i := len(f.cleanups) - 1; i >= 0; i-- {
			f.cleanups[i]()
		}
	}()
	// Istio's objects, parsed by istiod's own parser; each gets the cluster's domain as istiod's
	// Kubernetes config store gives it (short hosts such as "reviews" resolve against it).
	configs, unknown, err := crd.ParseInputs(in.Istio)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: the Istio objects:", err)
		os.Exit(2)
	}
	if len(unknown) > 0 {
		fmt.Fprintf(os.Stderr, "istiod-gen: kinds istiod does not know: %v\n", unknown)
		os.Exit(2)
	}
	for i := range configs {
		configs[i].Domain = "cluster.local"
		if configs[i].Namespace == "" {
			configs[i].Namespace = "default"
		}
	}
	s := xds.NewFakeDiscoveryServer(f, xds.FakeOptions{
		KubernetesObjectString: in.Kubernetes,
		Configs:                configs,
		MeshConfig:             meshConfig,
	})
	// The configurations reach istiod's indexes (krt collections) as events after the server's
	// first push: wait until every push those events asked for has been committed.
	s.EnsureSynced(f)
	type outProxy struct {
		Name       string          `json:"name"`
		Namespace  string          `json:"namespace"`
		ConfigDump json.RawMessage `json:"configDump"`
	}
	out := struct {
		Proxies []outProxy `json:"proxies"`
	}{}
	for _, ps := range in.Proxies {
		mode := ps.InterceptionMode
		if mode == "" {
			mode = "REDIRECT"
		}
		p := s.SetupProxy(&model.Proxy{
			ID:              fmt.Sprintf("%s.%s", ps.Name, ps.Namespace),
			ConfigNamespace: ps.Namespace,
			IPAddresses:     []string{ps.IP},
			Labels:          ps.Labels,
			Metadata: &model.NodeMetadata{
				Namespace:        ps.Namespace,
				Labels:           ps.Labels,
				InterceptionMode: model.TrafficInterceptionMode(mode),
				IstioVersion:     "1.30.0",
			},
		})
		listeners := s.Listeners(p)
		clusters := s.Clusters(p)
		routes := s.RoutesFromListeners(p, listeners)
		endpoints := s.Endpoints(p)
		ld := &admin.ListenersConfigDump{}
		for _, l := range listeners {
			ld.DynamicListeners = append(ld.DynamicListeners, &admin.ListenersConfigDump_DynamicListener{Name: l.Name, ActiveState: &admin.ListenersConfigDump_DynamicListenerState{Listener: anyOf(l)}})
		}
		cd := &admin.ClustersConfigDump{}
		for _, c := range clusters {
			cd.DynamicActiveClusters = append(cd.DynamicActiveClusters, &admin.ClustersConfigDump_DynamicCluster{Cluster: anyOf(c)})
		}
		rd := &admin.RoutesConfigDump{}
		for _, r := range routes {
			rd.DynamicRouteConfigs = append(rd.DynamicRouteConfigs, &admin.RoutesConfigDump_DynamicRouteConfig{RouteConfig: anyOf(r)})
		}
		ed := &admin.EndpointsConfigDump{}
		for _, e := range endpoints {
			ed.DynamicEndpointConfigs = append(ed.DynamicEndpointConfigs, &admin.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: anyOf(e)})
		}
		dump := &admin.ConfigDump{Configs: []*anypb.Any{anyOf(cd), anyOf(ld), anyOf(rd), anyOf(ed)}}
		// Envoy's own field names (snake_case), as its admin /config_dump prints them.
		text, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(dump)
		if err != nil {
			fmt.Fprintln(os.Stderr, "istiod-gen: printing the config dump:", err)
			os.Exit(1)
		}
		out.Proxies = append(out.Proxies, outProxy{Name: ps.Name, Namespace: ps.Namespace, ConfigDump: json.RawMessage(text)})
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: writing:", err)
		os.Exit(1)
	}
}
