// pathlab-istiod-gen: istiod's own configuration generation for sidecars, without a cluster.
// It runs Istio's fake discovery server (istio.io/istio/pilot/test/xds: istiod's Kubernetes
// service registry over a fake clientset, its config stores, its ConfigGen) on the objects it is
// given, and prints, for each proxy asked for, the listeners, clusters, routes and endpoints
// istiod would push to it, as an Envoy admin config_dump. The conversion of Kubernetes and Istio
// objects is Istio's own code: this program only feeds it and prints what it made.
//
// Two ways to run it:
//
// `istiod-gen` (one-shot): the objects and a list of proxies on stdin, each proxy's configuration
// on stdout, as below. The lab's differential tests use it.
//
// `istiod-gen serve XDS-ADDRESS CONTROL-SOCKET`: istiod's discovery server, serving ADS on
// XDS-ADDRESS (host:port, plaintext, as istiod's 15010) to the lab's pilot-agents. The lab plays
// the API server over CONTROL-SOCKET (a unix socket): each line it writes is the cluster's whole
// state ({"kubernetes", "istio", "meshConfig"}, and "wait": the proxy IDs to wait for). The first
// starts istiod; each later one is applied as a change (what is new created, what changed
// updated, what is gone deleted, in the fake clientset, the config store and the mesh config).
// The answer, one line, comes when istiod has pushed that state and every connected proxy has
// answered: each proxy's push version and, per xDS type, the nonce sent and acked and Envoy's
// last rejection (see syncStatus).
//
// Input of the one-shot run (stdin, JSON):
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
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	admin "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	istiokeepalive "istio.io/istio/pkg/keepalive"
	kubelib "istio.io/istio/pkg/kube"
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
	// istiod logs to stdout by default: the answers go there, its log to stderr (quiet).
	logOpts := log.DefaultOptions()
	logOpts.OutputPaths = []string{"stderr"}
	logOpts.ErrorOutputPaths = []string{"stderr"}
	logOpts.SetDefaultOutputLevel(log.DefaultScopeName, log.ErrorLevel)
	if err := log.Configure(logOpts); err != nil {
		fmt.Fprintln(os.Stderr, "istiod-gen: logging:", err)
	}
	if len(os.Args) == 4 && os.Args[1] == "serve" {
		serve(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: istiod-gen < input.json | istiod-gen serve XDS-ADDRESS CONTROL-SOCKET")
		os.Exit(2)
	}
	oneShot()
}

func fail(code int, args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"istiod-gen:"}, args...)...)
	os.Exit(code)
}

func meshOf(text string) (*meshconfig.MeshConfig, error) {
	if text == "" {
		return mesh.DefaultMeshConfig(), nil
	}
	mc, err := mesh.ApplyMeshConfigDefaults(text)
	if err != nil {
		return nil, fmt.Errorf("meshConfig: %v", err)
	}
	return mc, nil
}

// istioConfigs parses Istio's objects with istiod's own parser; each gets the cluster's domain as
// istiod's Kubernetes config store gives it (short hosts such as "reviews" resolve against it).
func istioConfigs(text string) ([]config.Config, error) {
	configs, unknown, err := crd.ParseInputs(text)
	if err != nil {
		return nil, fmt.Errorf("the Istio objects: %v", err)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("kinds istiod does not know: %v", unknown)
	}
	for i := range configs {
		configs[i].Domain = "cluster.local"
		if configs[i].Namespace == "" {
			configs[i].Namespace = "default"
		}
	}
	return configs, nil
}

// must is the one-shot run's way with a bad input: say why, and exit 2.
func must[T any](v T, err error) T {
	if err != nil {
		fail(2, err)
	}
	return v
}

func oneShot() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(2, "reading stdin:", err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail(2, "the input is not JSON of the expected shape:", err)
	}
	f := &failer{}
	defer func() {
		for i := len(f.cleanups) - 1; i >= 0; i-- {
			f.cleanups[i]()
		}
	}()
	s := xds.NewFakeDiscoveryServer(f, xds.FakeOptions{
		KubernetesObjectString: in.Kubernetes,
		Configs:                must(istioConfigs(in.Istio)),
		MeshConfig:             must(meshOf(in.MeshConfig)),
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
			fail(1, "printing the config dump:", err)
		}
		out.Proxies = append(out.Proxies, outProxy{Name: ps.Name, Namespace: ps.Namespace, ConfigDump: json.RawMessage(text)})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(1, "writing:", err)
	}
}

// state is one line of the serve mode's input: the whole cluster, as the lab has it now.
type state struct {
	Kubernetes string   `json:"kubernetes"`
	Istio      string   `json:"istio"`
	MeshConfig string   `json:"meshConfig"`
	Wait       []string `json:"wait"`
	TimeoutMs  int      `json:"timeoutMs"`
}

type typeStatus struct {
	Sent      string `json:"sent"`
	Acked     string `json:"acked"`
	LastError string `json:"lastError,omitempty"`
}

type proxyStatus struct {
	ID          string                `json:"id"`
	PushVersion string                `json:"pushVersion"`
	Types       map[string]typeStatus `json:"types"`
}

type reply struct {
	OK          bool          `json:"ok"`
	Error       string        `json:"error,omitempty"`
	PushVersion string        `json:"pushVersion"`
	Proxies     []proxyStatus `json:"proxies"`
	Millis      int64         `json:"ms"`
}

// typeNames are the xDS types by the short names the lab prints.
var typeNames = map[string]string{v3.ClusterType: "cds", v3.ListenerType: "lds", v3.RouteType: "rds", v3.EndpointType: "eds", v3.SecretType: "sds", v3.ExtensionConfigurationType: "ecds"}

// applied is what the fake API server and the config store hold now, by kind/namespace/name.
type applied struct {
	kube  map[string]kubeEntry
	istio map[string]istioEntry
	mesh  string
}

type kubeEntry struct {
	text      string
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

type istioEntry struct {
	text string
	c    config.Config
}

func serve(xdsAddr, control string) {
	_ = os.Remove(control)
	ctl, err := net.Listen("unix", control)
	if err != nil {
		fail(1, "listening on", control, err)
	}
	var mu sync.Mutex
	var srv *xds.FakeDiscoveryServer
	var now applied
	f := &failer{}
	handle := func(st state) reply {
		mu.Lock()
		defer mu.Unlock()
		t0 := time.Now()
		if srv == nil {
			// The first state starts istiod, serving ADS on xdsAddr; a state it cannot read is an
			// answer, not an exit (the lab says why).
			kube, err := kubeObjects(st.Kubernetes)
			if err != nil {
				return reply{Error: err.Error()}
			}
			configs, err := istioConfigs(st.Istio)
			if err != nil {
				return reply{Error: err.Error()}
			}
			mc, err := meshOf(st.MeshConfig)
			if err != nil {
				return reply{Error: err.Error()}
			}
			lis, err := net.Listen("tcp", xdsAddr)
			if err != nil {
				return reply{Error: fmt.Sprintf("listening on %s: %v", xdsAddr, err)}
			}
			srv = xds.NewFakeDiscoveryServer(f, xds.FakeOptions{
				KubernetesObjectString: st.Kubernetes,
				Configs:                configs,
				MeshConfig:             mc,
			})
			// ADS on a real port, with istiod's own gRPC server options (its keepalive policy:
			// pilot-agent's pings would otherwise end the stream with "too_many_pings").
			grpcServer := grpc.NewServer(istiogrpc.ServerOptions(istiokeepalive.DefaultOption(), func(int64) {})...)
			srv.Discovery.Register(grpcServer)
			go func() { _ = grpcServer.Serve(lis) }()
			now = applied{kube: map[string]kubeEntry{}, istio: map[string]istioEntry{}, mesh: st.MeshConfig}
			for k, o := range kube {
				now.kube[k] = o.entry
			}
			for _, c := range configs {
				now.istio[configKey(c)] = istioEntry{configText(c), c}
			}
			return waitPushed(srv, st, t0, snapshot{})
		}
		before := snapshotOf(srv)
		changed, err := now.apply(srv, st)
		if err != nil {
			return reply{Error: err.Error()}
		}
		before.changed = changed
		return waitPushed(srv, st, t0, before)
	}
	for {
		conn, err := ctl.Accept()
		if err != nil {
			fail(1, "control socket:", err)
		}
		go func() {
			defer conn.Close()
			in := bufio.NewReaderSize(conn, 1<<20)
			out := json.NewEncoder(conn)
			for {
				st, err := readState(in)
				if err == io.EOF {
					return
				}
				if err != nil {
					_ = out.Encode(reply{Error: err.Error()})
					return
				}
				_ = out.Encode(handle(st))
			}
		}()
	}
}

func readState(in *bufio.Reader) (state, error) {
	line, err := in.ReadBytes('\n')
	if err != nil && (err != io.EOF || len(line) == 0) {
		return state{}, err
	}
	var st state
	if err := json.Unmarshal(line, &st); err != nil {
		return state{}, fmt.Errorf("a line that is not JSON of the expected shape: %v", err)
	}
	return st, nil
}

type kubeObject struct {
	obj   runtime.Object
	entry kubeEntry
}

// kubeObjects parses YAML documents as the fake clientset's codec does, keyed by kind/namespace/name.
func kubeObjects(text string) (map[string]kubeObject, error) {
	out := map[string]kubeObject{}
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	for _, doc := range strings.Split(text, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		o, gvk, err := decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("a Kubernetes object: %v", err)
		}
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		gvr, _ := meta.UnsafeGuessKindToResource(*gvk)
		out[gvk.Kind+"/"+m.GetNamespace()+"/"+m.GetName()] = kubeObject{o, kubeEntry{doc, gvr, m.GetNamespace(), m.GetName()}}
	}
	return out, nil
}

// configKey names an Istio object by its group and kind too (Istio's Gateway is not the Gateway API's).
func configKey(c config.Config) string {
	return c.GroupVersionKind.String() + "/" + c.Namespace + "/" + c.Name
}

func configText(c config.Config) string {
	b, _ := json.Marshal(c.Spec)
	l, _ := json.Marshal(c.Labels)
	a, _ := json.Marshal(c.Annotations)
	return string(b) + string(l) + string(a)
}

// apply brings the fake API server, the config store and the mesh config to the state given:
// what is new is created, what changed updated, what is gone deleted, each raising the events
// istiod's controllers watch for. The state is read whole before anything changes. It returns
// how many changes must reach istiod as an update (Services, EndpointSlices, Istio objects, the
// mesh config; a Pod's new annotations need not).
func (a *applied) apply(s *xds.FakeDiscoveryServer, st state) (int, error) {
	objs, err := kubeObjects(st.Kubernetes)
	if err != nil {
		return 0, err
	}
	configs, err := istioConfigs(st.Istio)
	if err != nil {
		return 0, err
	}
	var mc *meshconfig.MeshConfig
	if st.MeshConfig != a.mesh {
		if mc, err = meshOf(st.MeshConfig); err != nil {
			return 0, err
		}
	}
	changed := 0
	tracker := s.KubeClient().Kube().(*fake.Clientset).Tracker()
	for k, o := range objs {
		old, ok := a.kube[k]
		switch {
		case ok && old.text == o.entry.text:
			continue
		case ok:
			err = tracker.Update(o.entry.gvr, o.obj, o.entry.namespace)
		default:
			err = tracker.Add(o.obj)
		}
		if err != nil {
			return changed, fmt.Errorf("%s: %v", k, err)
		}
		a.kube[k] = o.entry
		// A pod's annotations matter to istio-init, not to istiod: a changed Pod may raise no update.
		if !strings.HasPrefix(k, "Pod/") {
			changed++
		}
	}
	for k, e := range a.kube {
		if _, ok := objs[k]; ok {
			continue
		}
		if err := tracker.Delete(e.gvr, e.namespace, e.name); err != nil {
			return changed, fmt.Errorf("deleting %s: %v", k, err)
		}
		delete(a.kube, k)
		changed++
	}
	want := map[string]config.Config{}
	for _, c := range configs {
		want[configKey(c)] = c
	}
	store := s.Store()
	for k, c := range want {
		old, ok := a.istio[k]
		switch {
		case !ok:
			_, err = store.Create(c)
		case old.text != configText(c):
			_, err = store.Update(c)
		default:
			continue
		}
		if err != nil {
			return changed, fmt.Errorf("%s: %v", k, err)
		}
		a.istio[k] = istioEntry{configText(c), c}
		changed++
	}
	for k, e := range a.istio {
		if _, ok := want[k]; ok {
			continue
		}
		if err := store.Delete(e.c.GroupVersionKind, e.c.Name, e.c.Namespace, nil); err != nil {
			return changed, fmt.Errorf("deleting %s: %v", k, err)
		}
		delete(a.istio, k)
		changed++
	}
	if mc != nil {
		s.Env().Watcher.(meshwatcher.TestWatcher).Set(mc)
		// istiod pushes every proxy when the mesh config changes (its mesh handler in bootstrap).
		s.Discovery.ConfigUpdate(&model.PushRequest{Full: true, Forced: true, Reason: model.NewReasonStats(model.GlobalUpdate)})
		a.mesh = st.MeshConfig
		changed++
	}
	return changed, nil
}

// syncStatus is each connected proxy's state, as istiod's /debug/syncz reports it.
func syncStatus(s *xds.FakeDiscoveryServer) []proxyStatus {
	var out []proxyStatus
	for _, con := range s.Discovery.SortedClients() {
		p := con.Proxy()
		if p == nil {
			continue
		}
		ps := proxyStatus{ID: p.ID, Types: map[string]typeStatus{}}
		if p.LastPushContext != nil {
			ps.PushVersion = p.LastPushContext.PushVersion
		}
		for _, wr := range p.DeepCloneWatchedResources() {
			name := typeNames[wr.TypeUrl]
			if name == "" {
				name = wr.TypeUrl
			}
			ps.Types[name] = typeStatus{Sent: wr.NonceSent, Acked: wr.NonceAcked, LastError: wr.LastError}
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// snapshot is what istiod had answered before a change: the inbound update count, and each
// proxy's last nonce sent and rejection per type (a rejection still recorded from before is not
// an answer to what the change sends).
type snapshot struct {
	inbound int64
	changed int
	sent    map[string]string
	errs    map[string]string
}

func snapshotOf(s *xds.FakeDiscoveryServer) snapshot {
	sn := snapshot{inbound: s.Discovery.InboundUpdates.Load(), sent: map[string]string{}, errs: map[string]string{}}
	for _, con := range s.Discovery.SortedClients() {
		if p := con.Proxy(); p != nil {
			for _, wr := range p.DeepCloneWatchedResources() {
				sn.sent[p.ID+" "+wr.TypeUrl] = wr.NonceSent
				sn.errs[p.ID+" "+wr.TypeUrl] = wr.LastError
			}
		}
	}
	return sn
}

// settled: istiod has committed every update it was told of into its push context, every proxy
// waited for is connected, each was last pushed with that push context, and answered every type
// it was sent: acked it, or rejected it (a rejection that is new since the change, or of a nonce
// sent before it: lastError says why).
func settled(s *xds.FakeDiscoveryServer, wait []string, before snapshot) (bool, string) {
	if s.Discovery.CommittedUpdates.Load() < s.Discovery.InboundUpdates.Load() {
		return false, "istiod has not committed every update to its push context"
	}
	push := s.Discovery.Env.PushContext()
	connected := map[string]bool{}
	for _, con := range s.Discovery.SortedClients() {
		p := con.Proxy()
		if p == nil {
			continue
		}
		connected[p.ID] = true
		if p.LastPushContext != push {
			return false, p.ID + " has not been pushed the latest push context"
		}
		for _, wr := range p.DeepCloneWatchedResources() {
			key := p.ID + " " + wr.TypeUrl
			rejected := wr.LastError != "" && (wr.LastError != before.errs[key] || wr.NonceSent == before.sent[key])
			if wr.NonceSent != wr.NonceAcked && !rejected {
				return false, fmt.Sprintf("%s has not answered %s %s", p.ID, typeNames[wr.TypeUrl], wr.NonceSent)
			}
		}
	}
	for _, id := range wait {
		if !connected[id] {
			return false, id + " is not connected"
		}
	}
	return true, ""
}

// waitPushed waits until istiod has pushed the state it was given and every proxy answered.
// The watchers see the fake clientset's changes as events some time after the change, and a push
// is queued before it is sent: after a change, the state must first show an update istiod was
// told of since the change (or 1 s must pass: a change istiod ignores raises none), then hold,
// with no new update, for a quiet interval.
func waitPushed(s *xds.FakeDiscoveryServer, st state, t0 time.Time, before snapshot) reply {
	timeout := time.Duration(st.TimeoutMs) * time.Millisecond
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	const quiet = 100 * time.Millisecond
	const firstEvent = time.Second
	var since time.Time
	var seen int64 = -1
	var why string
	for {
		ok, reason := settled(s, st.Wait, before)
		inbound := s.Discovery.InboundUpdates.Load()
		switch {
		case !ok:
			since, why = time.Time{}, reason
		case before.changed > 0 && inbound == before.inbound && time.Since(t0) < firstEvent:
			since, why = time.Time{}, "istiod has not seen the change yet"
		case inbound != seen || since.IsZero():
			since, seen = time.Now(), inbound
		case time.Since(since) >= quiet:
			return reply{OK: true, PushVersion: s.Discovery.Env.PushContext().PushVersion, Proxies: syncStatus(s), Millis: time.Since(t0).Milliseconds()}
		}
		if time.Since(t0) > timeout {
			return reply{Error: "not settled after " + timeout.String() + ": " + why, Proxies: syncStatus(s), Millis: time.Since(t0).Milliseconds()}
		}
		time.Sleep(5 * time.Millisecond)
	}
}
