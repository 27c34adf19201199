// skydive-emulator: what a Skydive process does with its TLS settings at
// start-up, on its API server and on its outgoing connections, release family
// by release family, copied as literally as possible from Skydive's source
// (github.com/skydive-project/skydive, Apache-2.0; excerpts in
// ../shared/skydive/source/<tag>/, read in ../shared/skydive-tls.md).
//
// It exists so that the tests decide "would Skydive load this config?" with
// Skydive's own logic, not with skycert's model of it. Go standard library only;
// built by test/helpers/emulator.ts with GO111MODULE=off.
//
// Release families (-release):
//
//	legacy (v0.20)      analyzer.X509_cert/_key, agent.X509_cert/_key       source/v0.20.0
//	0.21   (v0.21-v0.26) tls.client_cert/_key, tls.server_cert/_key, tls.ca_cert  source/v0.21.0
//	0.27   (v0.27, v0.28) the same keys, looser IsTLSEnabled, tls.require_client_cert  source/v0.27.0
//
// Modes (every mode prints exactly one JSON line on stdout; see usage()):
//
//	check  start-up only
//	serve  the API server, until stdin closes
//	dial   the process's outgoing connection to one `analyzers:` entry
//	pair   serve + dial in one process
//
// Nothing here prints key material: the one Skydive error that would (the
// content of a ca_cert file that holds no certificate) is redacted when that
// content holds a private key.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Every network step is bounded, so a test never hangs.
const timeout = 5 * time.Second

// ---------------------------------------------------------------------------
// Release families
// ---------------------------------------------------------------------------

type family string

const (
	familyLegacy family = "legacy" // v0.20.0: config/tls.go, common/tls.go, config IsTLSEnabled
	family021    family = "0.21"   // v0.21.0, unchanged through v0.26
	family027    family = "0.27"   // v0.27.0, also v0.28
)

// parseRelease accepts a family name or a release number ("v0.24.0", "0.28").
// Releases before v0.20 are refused: v0.12 to v0.19 also read
// agent.X509_insecure, which the v0.20 code this emulates does not.
func parseRelease(s string) (family, error) {
	t := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "v")
	if t == "legacy" {
		return familyLegacy, nil
	}
	parts := strings.Split(t, ".")
	if len(parts) >= 2 && len(parts) <= 3 && parts[0] == "0" {
		if minor, err := strconv.Atoi(parts[1]); err == nil {
			switch {
			case minor == 20:
				return familyLegacy, nil
			case minor >= 21 && minor <= 26:
				return family021, nil
			case minor == 27 || minor == 28:
				return family027, nil
			}
		}
	}
	return "", fmt.Errorf("unknown release %q (legacy, 0.20, 0.21 to 0.26, 0.27, 0.28)", s)
}

// ---------------------------------------------------------------------------
// Settings, read the way Skydive's viper reads them
// ---------------------------------------------------------------------------

// settings holds one host's configuration: the flattened keys of its
// skydive.yml (lower-cased, as viper stores them) and its SKYDIVE_* environment.
type settings struct {
	values map[string]interface{}
	env    map[string]string
}

// config/config.go init(): cfg.SetEnvPrefix("SKYDIVE"), SetEnvKeyReplacer(".", "_", "-", "_"), AutomaticEnv().
var envReplacer = strings.NewReplacer(".", "_", "-", "_")

// get is viper's Get for a key never Set: the environment first (viper's
// mergeWithEnvPrefix upper-cases "SKYDIVE_"+key, then the replacer applies; an
// empty variable counts as unset), then the config file.
func (s *settings) get(key string) interface{} {
	lkey := strings.ToLower(key)
	if v := s.env[envReplacer.Replace(strings.ToUpper("SKYDIVE_"+lkey))]; v != "" {
		return v
	}
	return s.values[lkey]
}

// GetString is viper's GetString: spf13/cast ToString (a bool gives "true",
// a list or a map gives "").
func (s *settings) GetString(key string) string { return castToString(s.get(key)) }

// GetBool is viper's GetBool: cast.ToBool (strings through strconv.ParseBool).
func (s *settings) GetBool(key string) bool {
	switch v := s.get(key).(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	case float64:
		return v != 0
	}
	return false
}

// GetStringSlice is viper's GetStringSlice: cast.ToStringSlice, so a string
// (what an environment variable always is) splits on white space only.
func (s *settings) GetStringSlice(key string) []string {
	switch v := s.get(key).(type) {
	case nil:
		return nil
	case []interface{}:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, castToString(e))
		}
		return out
	case string:
		return strings.Fields(v)
	default:
		return []string{castToString(v)}
	}
}

func castToString(v interface{}) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// flatten turns nested maps into dotted, lower-cased keys, as viper finds them.
func flatten(prefix string, in map[string]interface{}, out map[string]interface{}) {
	for k, v := range in {
		key := strings.ToLower(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		if m, ok := v.(map[string]interface{}); ok {
			flatten(key, m, out)
			continue
		}
		out[key] = v
	}
}

func loadJSONObject(path string) (map[string]interface{}, error) {
	if path == "" {
		return map[string]interface{}{}, nil
	}
	data, err := ioutil.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]interface{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// loadSettings reads a settings file and an environment file (a JSON object of
// variable names to values). processEnv adds this process's own SKYDIVE_*
// variables underneath the file's, as a real process would see them.
func loadSettings(settingsPath, envPath string, processEnv bool) (*settings, error) {
	raw, err := loadJSONObject(settingsPath)
	if err != nil {
		return nil, err
	}
	s := &settings{values: map[string]interface{}{}, env: map[string]string{}}
	flatten("", raw, s.values)
	if processEnv {
		for _, kv := range os.Environ() {
			if i := strings.IndexByte(kv, '='); i > 0 && strings.HasPrefix(kv, "SKYDIVE_") {
				s.env[kv[:i]] = kv[i+1:]
			}
		}
	}
	envRaw, err := loadJSONObject(envPath)
	if err != nil {
		return nil, err
	}
	for k, v := range envRaw {
		s.env[k] = castToString(v)
	}
	return s, nil
}

// ---------------------------------------------------------------------------
// One Skydive process
// ---------------------------------------------------------------------------

type mount struct{ from, to string }

// process is one Skydive agent or analyzer: its release, role and settings, and
// how this test machine stands in for its host (mounted folders, name lookups).
type process struct {
	fam      family
	release  string
	role     string // "agent" or "analyzer"
	cfg      *settings
	mounts   []mount
	resolved map[string]string // -resolve NAME=IP; "*" answers any other name
}

func (p *process) GetString(key string) string { return p.cfg.GetString(key) }
func (p *process) GetBool(key string) bool     { return p.cfg.GetBool(key) }

// hostPath maps a path as the host (or pod) sees it to where the test keeps it.
func (p *process) hostPath(path string) string {
	best := -1
	for i, m := range p.mounts {
		if (path == m.from || strings.HasPrefix(path, strings.TrimSuffix(m.from, "/")+"/")) && (best < 0 || len(m.from) > len(p.mounts[best].from)) {
			best = i
		}
	}
	if best < 0 {
		return path
	}
	m := p.mounts[best]
	return filepath.Join(m.to, strings.TrimPrefix(path, strings.TrimSuffix(m.from, "/")))
}

// readFile is ioutil.ReadFile on the mapped path; its error names the path as
// configured, so the messages read as they would on the real host.
func (p *process) readFile(path string) ([]byte, error) {
	data, err := ioutil.ReadFile(p.hostPath(path))
	var pe *os.PathError
	if errors.As(err, &pe) {
		pe.Path = path
	}
	return data, err
}

// loadX509KeyPair is crypto/tls.LoadX509KeyPair (go1.19 crypto/tls/tls.go),
// reading through the mounts.
func (p *process) loadX509KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEMBlock, err := p.readFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEMBlock, err := p.readFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEMBlock, keyPEMBlock)
}

// ---- common/tls.go (v0.20.0, v0.21.0), graffiti/tls/tls.go (v0.27.0): identical in the three releases ----

// SetupTLSLoadCA creates an X509 certificate from file. v0.20.0 calls it
// SetupTLSLoadCertificate; the body is the same.
func (p *process) SetupTLSLoadCA(certPEM string) (*x509.CertPool, error) {
	rootPEM, err := p.readFile(certPEM)
	if err != nil {
		return nil, fmt.Errorf("Failed to open root certificate '%s' : %s", certPEM, err)
	}
	roots := x509.NewCertPool()
	ok := roots.AppendCertsFromPEM([]byte(rootPEM))
	if !ok {
		// Skydive formats the file's *content* here (rootPEM, not certPEM): a key
		// file named as ca_cert would put the private key in Skydive's log. The
		// emulator keeps the message and withholds such content.
		return nil, fmt.Errorf("Failed to parse root certificate '%s'", withholdKeys(rootPEM))
	}
	return roots, nil
}

// SetupTLSLoadCertificate is v0.20.0's name for SetupTLSLoadCA.
func (p *process) SetupTLSLoadCertificate(certPEM string) (*x509.CertPool, error) {
	return p.SetupTLSLoadCA(certPEM)
}

func withholdKeys(content []byte) string {
	if strings.Contains(string(content), "PRIVATE KEY") {
		return "[file content withheld by the emulator: it holds a private key]"
	}
	return string(content)
}

// SetupTLSClientConfig creates a client X509 certificate from public and private key.
func (p *process) SetupTLSClientConfig(certPEM string, keyPEM string) (*tls.Config, error) {
	cert, err := p.loadX509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("Can't read X509 key pair set in config : cert '%s' key '%s' : %s", certPEM, keyPEM, err)
	}
	cfgTLS := &tls.Config{
		Certificates: []tls.Certificate{cert},
	}
	return cfgTLS, nil
}

// SetupTLSServerConfig creates a server X509 certificate from public and private key.
func (p *process) SetupTLSServerConfig(certPEM string, keyPEM string) (*tls.Config, error) {
	cfgTLS, err := p.SetupTLSClientConfig(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}

	cfgTLS.MinVersion = tls.VersionTLS12
	cfgTLS.ClientAuth = tls.VerifyClientCertIfGiven //tls.NoClientCert // tls.RequireAndVerifyClientCert
	cfgTLS.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256}
	cfgTLS.PreferServerCipherSuites = true
	cfgTLS.CipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	}

	return cfgTLS, nil
}

// ---- config: IsTLSEnabled (config/config.go), GetTLSClientConfig and GetTLSServerConfig (config/tls.go) ----

// IsTLSEnabled returns true is the analyzer certificates are set (v0.20.0),
// the client / server certificates are set (v0.21.0, v0.27.0).
func (p *process) IsTLSEnabled() bool {
	switch p.fam {
	case familyLegacy: // source/v0.20.0/config_IsTLSEnabled.go
		certPEM := p.GetString("analyzer.X509_cert")
		keyPEM := p.GetString("analyzer.X509_key")
		if len(certPEM) > 0 && len(keyPEM) > 0 {
			return true
		}
		return false
	case family021: // source/v0.21.0/config_IsTLSEnabled.go
		client := p.GetString("tls.client_cert")
		clientKey := p.GetString("tls.client_key")
		server := p.GetString("tls.server_cert")
		serverKey := p.GetString("tls.server_key")
		ca := p.GetString("tls.ca_cert")

		if len(client) > 0 &&
			len(clientKey) > 0 &&
			len(server) > 0 &&
			len(serverKey) > 0 &&
			len(ca) > 0 {
			return true
		}

		return false
	default: // source/v0.27.0/config_IsTLSEnabled.go; && binds tighter than ||
		client := p.GetString("tls.client_cert")
		clientKey := p.GetString("tls.client_key")
		server := p.GetString("tls.server_cert")
		serverKey := p.GetString("tls.server_key")
		ca := p.GetString("tls.ca_cert")

		if len(ca) > 0 &&
			(len(client) > 0 && len(clientKey) > 0) ||
			(len(server) > 0 && len(serverKey) > 0) {
			return true
		}

		return false
	}
}

// GetTLSClientConfig returns TLS config to be used by client: nil, and no
// error, when the client pair is not set.
func (p *process) GetTLSClientConfig(setupRootCA bool) (*tls.Config, error) {
	if p.fam == familyLegacy { // source/v0.20.0/config_tls.go
		certPEM := p.GetString("agent.X509_cert")
		keyPEM := p.GetString("agent.X509_key")
		var tlsConfig *tls.Config
		if certPEM != "" && keyPEM != "" {
			var err error
			tlsConfig, err = p.SetupTLSClientConfig(certPEM, keyPEM)
			if err != nil {
				return nil, err
			}
			if setupRootCA {
				analyzerCertPEM := p.GetString("analyzer.X509_cert")
				tlsConfig.RootCAs, err = p.SetupTLSLoadCertificate(analyzerCertPEM)
				if err != nil {
					return nil, err
				}
			}
		}
		return tlsConfig, nil
	}
	// source/v0.21.0/config_tls.go and source/v0.27.0/config_tls.go (same body)
	certPEM := p.GetString("tls.client_cert")
	keyPEM := p.GetString("tls.client_key")
	var tlsConfig *tls.Config
	if certPEM != "" && keyPEM != "" {
		var err error
		tlsConfig, err = p.SetupTLSClientConfig(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		if setupRootCA {
			rootCaPEM := p.GetString("tls.ca_cert")
			tlsConfig.RootCAs, err = p.SetupTLSLoadCA(rootCaPEM)
			if err != nil {
				return nil, err
			}
		}
	}
	return tlsConfig, nil
}

// GetTLSServerConfig returns TLS config to be used by server.
func (p *process) GetTLSServerConfig(setupRootCA bool) (*tls.Config, error) {
	switch p.fam {
	case familyLegacy: // source/v0.20.0/config_tls.go: setupRootCA is ignored, ClientCAs always loaded
		certPEM := p.GetString("analyzer.X509_cert")
		keyPEM := p.GetString("analyzer.X509_key")
		agentCertPEM := p.GetString("agent.X509_cert")
		tlsConfig, err := p.SetupTLSServerConfig(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		tlsConfig.ClientCAs, err = p.SetupTLSLoadCertificate(agentCertPEM)
		if err != nil {
			return nil, err
		}
		return tlsConfig, nil
	case family021: // source/v0.21.0/config_tls.go
		certPEM := p.GetString("tls.server_cert")
		keyPEM := p.GetString("tls.server_key")

		tlsConfig, err := p.SetupTLSServerConfig(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		if setupRootCA {
			rootCaPEM := p.GetString("tls.ca_cert")
			tlsConfig.ClientCAs, err = p.SetupTLSLoadCA(rootCaPEM)
			if err != nil {
				return nil, err
			}
		}
		return tlsConfig, nil
	default: // source/v0.27.0/config_tls.go
		certPEM := p.GetString("tls.server_cert")
		keyPEM := p.GetString("tls.server_key")

		tlsConfig, err := p.SetupTLSServerConfig(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}

		if p.GetBool("tls.require_client_cert") {
			tlsConfig.ClientAuth = tls.RequireAndVerifyClientCert
		}

		if setupRootCA {
			rootCaPEM := p.GetString("tls.ca_cert")
			tlsConfig.ClientCAs, err = p.SetupTLSLoadCA(rootCaPEM)
			if err != nil {
				return nil, err
			}
		}
		return tlsConfig, nil
	}
}

// ---- the analyzers list: config.GetAnalyzerServiceAddresses ----

// serviceAddress is common.ServiceAddress (<= v0.26) / graffiti service.Address (v0.27).
type serviceAddress struct {
	Addr string
	Port int
}

// ServiceAddressFromString: up to v0.26 (common/service.go) the host is
// resolved with net.LookupIP and the first address kept, so the URL, and the
// name Go verifies, is that IP; from v0.27 (graffiti/service/service.go) the
// host is kept as written.
func (p *process) ServiceAddressFromString(addressPort string) (serviceAddress, error) {
	/* Backward compatibility for old format like : listen = 1234 */
	if !strings.ContainsAny(addressPort, ".:") {
		addressPort = "localhost:" + addressPort
	} else if strings.HasPrefix(addressPort, ":") {
		addressPort = "localhost" + addressPort
	}

	host, port, err := net.SplitHostPort(addressPort)
	if err != nil {
		return serviceAddress{}, err
	}

	portNum, err := net.LookupPort("", port)
	if err != nil {
		return serviceAddress{}, err
	}

	if p.fam == family027 {
		return serviceAddress{Addr: host, Port: portNum}, nil
	}

	ips, err := p.lookupIP(host)
	if err != nil {
		return serviceAddress{}, err
	}
	if len(ips) == 0 {
		return serviceAddress{}, fmt.Errorf("no address found for %s", host)
	}

	// just take the first address returned
	addr := normalizeIPForURL(ips[0])

	return serviceAddress{Addr: addr, Port: portNum}, nil
}

// lookupIP is net.LookupIP, answered first by -resolve (the test stands in for
// the host's resolver), bounded in time.
func (p *process) lookupIP(host string) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	if v, ok := p.resolved[host]; ok {
		return []net.IP{net.ParseIP(v)}, nil
	}
	if v, ok := p.resolved["*"]; ok {
		return []net.IP{net.ParseIP(v)}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}

// normalizeIPForURL: brackets for IPv6 (common/service.go NormalizeIPForURL).
func normalizeIPForURL(ip net.IP) string {
	if ip.To4() == nil {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

// GetAnalyzerServiceAddresses returns a list of connectable Analyzers (config/config.go;
// the shuffle that follows is left out, the order does not matter here).
func (p *process) GetAnalyzerServiceAddresses(entries []string) ([]serviceAddress, error) {
	var addresses []serviceAddress
	for _, a := range entries {
		sa, err := p.ServiceAddressFromString(a)
		if err != nil {
			return nil, err
		}
		addresses = append(addresses, sa)
	}
	return addresses, nil
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

// target is one `analyzers:` entry as the process will dial it.
type target struct {
	Entry      string `json:"entry"`
	URL        string `json:"url"`        // the WebSocket URL the process builds
	ServerName string `json:"serverName"` // the name Go verifies in the server's certificate (when TLS)
}

type startup struct {
	Release    string `json:"release"`
	Family     string `json:"family"`
	Role       string `json:"role"`
	TLSEnabled bool   `json:"tlsEnabled"` // config.IsTLSEnabled()
	Started    bool   `json:"started"`
	StartError string `json:"startError"`
	ServerTLS  bool   `json:"serverTLS"` // the API server serves TLS
	// RequireClientCert: the API server refuses clients without a certificate (v0.27 tls.require_client_cert).
	RequireClientCert bool `json:"requireClientCert"`
	ClientTLS         bool `json:"clientTLS"`  // outgoing connections use TLS (wss://)
	ClientCert        bool `json:"clientCert"` // ... and carry a client certificate
	// ClientError: the client config failed to load. Fatal at start-up for an
	// agent (every release) and an analyzer (v0.27); up to v0.26 an analyzer only
	// logs it when it connects to its peers ("Failed to create client: ...").
	ClientError string `json:"clientError"`
	// ClientLoadedAtStart: the client config is loaded while the process starts.
	ClientLoadedAtStart bool     `json:"clientLoadedAtStart"`
	Analyzers           []target `json:"analyzers"`

	serverConfig *tls.Config
	clientConfig *tls.Config
	clientErr    error
}

// wsPath is the WebSocket path the process dials (cosmetic: only the URL shows it).
func (p *process) wsPath() string {
	if p.role == "analyzer" {
		return "/ws/replication"
	}
	if p.fam == family027 {
		return "/ws/agent/topology"
	}
	return "/ws/agent"
}

// start runs the TLS steps of a process's start-up, in the order its release
// runs them, and stops at the first error as the process would.
func (p *process) start(entries []string) *startup {
	st := &startup{Release: p.release, Family: string(p.fam), Role: p.role, Analyzers: []target{}}
	st.TLSEnabled = p.IsTLSEnabled()
	fail := func(err error) *startup {
		st.StartError = err.Error()
		return st
	}

	// The API server of every process: config/http.go NewHTTPServer up to v0.26,
	// agent/agent.go NewAgent and analyzer/server.go NewServerFromConfig in v0.27.
	serverConfig := func() error {
		if p.IsTLSEnabled() {
			cfg, err := p.GetTLSServerConfig(true)
			if err != nil {
				return err
			}
			st.serverConfig = cfg
			st.ServerTLS = true
			st.RequireClientCert = cfg.ClientAuth == tls.RequireAndVerifyClientCert
		}
		return nil
	}
	addresses := func() ([]serviceAddress, error) {
		addrs, err := p.GetAnalyzerServiceAddresses(entries)
		if err != nil {
			return nil, fmt.Errorf("Unable to get the analyzers list: %s", err)
		}
		return addrs, nil
	}
	// config/websocket.go NewWSClient (<= v0.26) / NewWSClientOpts (v0.27).
	clientConfig := func() {
		st.clientConfig, st.clientErr = p.GetTLSClientConfig(true)
		if st.clientErr != nil {
			st.ClientError = st.clientErr.Error()
		}
	}

	var addrs []serviceAddress
	var err error
	switch {
	case p.fam != family027:
		// agent/agent.go NewAgent: config.NewHTTPServer, then
		// NewAnalyzerStructClientPool: GetAnalyzerServiceAddresses, return early
		// ("standalone mode") when empty, else config.NewWSClient per analyzer.
		// analyzer/server.go NewServerFromConfig: config.NewHTTPServer, then
		// NewTopologyReplicationEndpoint: GetAnalyzerServiceAddresses and
		// addCandidate per analyzer; TopologyReplicatorPeer.connect calls
		// config.NewWSClient later, in a goroutine, and only logs its error.
		if err = serverConfig(); err != nil {
			return fail(err)
		}
		if addrs, err = addresses(); err != nil {
			return fail(err)
		}
		if len(addrs) > 0 {
			clientConfig()
			if p.role == "agent" {
				st.ClientLoadedAtStart = true
				if st.clientErr != nil {
					return fail(st.clientErr)
				}
			} else if st.clientErr != nil {
				st.ClientError = "Failed to create client: " + st.ClientError
			}
		}
		// config.GetURL: the scheme gets its "s" when IsTLSEnabled(), whatever the client config.
		st.ClientTLS = st.TLSEnabled
	case p.role == "agent":
		// source/v0.27.0/agent_agent.go.excerpt: the analyzers list, the server
		// config, then NewWSClientOpts, standalone or not.
		if addrs, err = addresses(); err != nil {
			return fail(err)
		}
		if err = serverConfig(); err != nil {
			return fail(err)
		}
		clientConfig()
		st.ClientLoadedAtStart = true
		if st.clientErr != nil {
			return fail(st.clientErr)
		}
		// The pod's and hub's WebSocket URLs are graffiti http.MakeURL(...,
		// WebsocketClientOpts.TLSConfig != nil) (skydive-tls.md); config.GetURL,
		// which still follows IsTLSEnabled (callers.txt, config/config.go:570),
		// serves API clients, not these connections.
		st.ClientTLS = st.clientConfig != nil
	default:
		// analyzer/server.go NewServerFromConfig (v0.27): the server config, the
		// peers, then NewWSClientOpts.
		if err = serverConfig(); err != nil {
			return fail(err)
		}
		if addrs, err = addresses(); err != nil {
			return fail(err)
		}
		clientConfig()
		st.ClientLoadedAtStart = true
		if st.clientErr != nil {
			return fail(st.clientErr)
		}
		st.ClientTLS = st.clientConfig != nil // as for the agent: MakeURL(..., TLSConfig != nil)
	}
	st.ClientCert = st.ClientTLS && st.clientConfig != nil && len(st.clientConfig.Certificates) > 0

	for i, sa := range addrs {
		scheme := "ws"
		if st.ClientTLS {
			scheme = "wss"
		}
		t := target{Entry: entries[i], URL: fmt.Sprintf("%s://%s:%d%s", scheme, sa.Addr, sa.Port, p.wsPath())}
		if st.ClientTLS {
			// gorilla/websocket Dialer: ServerName defaults to the URL's host.
			t.ServerName = strings.Trim(sa.Addr, "[]")
		}
		st.Analyzers = append(st.Analyzers, t)
	}
	st.Started = true
	return st
}

// ---------------------------------------------------------------------------
// The API server
// ---------------------------------------------------------------------------

type connLog struct {
	TLS   bool    `json:"tls"`
	Peer  *string `json:"peer"` // subject of the client's certificate, null without one
	Error string  `json:"error,omitempty"`
}

// tlsRecordHeaderLooksLikeHTTP is net/http/server.go's test for plaintext HTTP
// sent to a TLS server.
func tlsRecordHeaderLooksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nConnection: close\r\n\r\nskydive-emulator\n"

// serveConn answers one connection as Go's net/http server would reach the
// handler: TLS handshake (when TLS), one request, one response.
func serveConn(conn net.Conn, cfg *tls.Config) connLog {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	l := connLog{TLS: cfg != nil}
	var rw io.ReadWriter = conn
	if cfg != nil {
		tc := tls.Server(conn, cfg)
		if err := tc.Handshake(); err != nil {
			// net/http/server.go (*conn).serve answers plaintext HTTP with this.
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && tlsRecordHeaderLooksLikeHTTP(re.RecordHeader) {
				_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			}
			l.Error = err.Error()
			return l
		}
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			s := certs[0].Subject.String()
			l.Peer = &s
		}
		rw = tc
	}
	br := bufio.NewReader(rw)
	if cfg == nil {
		// A TLS ClientHello on a plaintext server: net/http reads it as a request
		// line and answers 400 once it meets a line break (without one, it waits,
		// and so does the client). The emulator answers at once.
		if b, err := br.Peek(1); err == nil && b[0] == 0x16 {
			_, _ = io.WriteString(rw, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
			l.Error = "malformed HTTP request: a TLS handshake sent to a plaintext server"
			return l
		}
	}
	if _, err := http.ReadRequest(br); err != nil {
		l.Error = err.Error()
		return l
	}
	if _, err := io.WriteString(rw, okResponse); err != nil {
		l.Error = err.Error()
	}
	return l
}

// serveLoop accepts until the listener closes, reporting each connection.
func serveLoop(ln net.Listener, cfg *tls.Config, report func(connLog)) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { report(serveConn(conn, cfg)) }()
	}
}

// ---------------------------------------------------------------------------
// The outgoing connection
// ---------------------------------------------------------------------------

type dialResult struct {
	Started    bool   `json:"started"`
	StartError string `json:"startError,omitempty"`
	Entry      string `json:"entry"`
	URL        string `json:"url"`
	TLS        bool   `json:"tls"`
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	ServerName string `json:"serverName"`
	Version    string `json:"version"`
	Cipher     string `json:"cipher"`
	// ServerSubject is the subject of the certificate the server presented.
	ServerSubject string `json:"serverSubject"`
	// ClientCertRequested: the server asked for a certificate; ClientCertSent:
	// the subject of the one Go chose to send ("" = none: not set, or not
	// issued by a CA the server named).
	ClientCertRequested bool   `json:"clientCertRequested"`
	ClientCertSent      string `json:"clientCertSent"`
	Status              int    `json:"status"` // HTTP status of the answer, 0 without one

	connected bool // a TCP connection was made
}

var tlsVersions = map[uint16]string{tls.VersionTLS10: "TLSv1", tls.VersionTLS11: "TLSv1.1", tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}

// dial connects to connect (a loopback address standing in for the analyzer)
// as the started process would connect to its `analyzers:` entry: scheme,
// client certificate, trust and verified name as its release decides; then one
// HTTP exchange, so a certificate the server refuses after a TLS 1.3 handshake
// shows (the client sees that refusal only on its first read).
func (p *process) dial(st *startup, entry, connect string, noClientCert bool) dialResult {
	r := dialResult{Started: st.Started, StartError: st.StartError, Entry: entry}
	if !st.Started {
		r.Error = "the process did not start: " + st.StartError
		return r
	}
	var t *target
	for i := range st.Analyzers {
		if st.Analyzers[i].Entry == entry {
			t = &st.Analyzers[i]
		}
	}
	if t == nil {
		r.Error = "no such analyzers entry: " + entry
		return r
	}
	r.URL, r.TLS, r.ServerName = t.URL, st.ClientTLS, t.ServerName
	if st.clientErr != nil {
		// Up to v0.26 an analyzer's peer connection (TopologyReplicatorPeer.connect).
		r.Error = st.ClientError
		return r
	}

	conn, err := net.DialTimeout("tcp", connect, timeout)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer conn.Close()
	r.connected = true
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var rw io.ReadWriter = conn
	if r.TLS {
		// gorilla/websocket Dialer.Dial: a clone of TLSClientConfig (an empty
		// config when nil: system roots), ServerName = the URL's host.
		cfg := &tls.Config{}
		if st.clientConfig != nil {
			cfg = st.clientConfig.Clone()
		}
		cfg.ServerName = t.ServerName
		certs := cfg.Certificates
		if noClientCert {
			certs = nil
		}
		cfg.Certificates = nil
		// crypto/tls (go1.19 handshake_client.go getClientCertificate), unchanged,
		// but noting what it picks: the first certificate the server's
		// CertificateRequest supports (signature algorithms, acceptable CAs),
		// else none.
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.ClientCertRequested = true
			for i := range certs {
				if err := cri.SupportsCertificate(&certs[i]); err != nil {
					continue
				}
				if leaf, err := x509.ParseCertificate(certs[i].Certificate[0]); err == nil {
					r.ClientCertSent = leaf.Subject.String()
				}
				return &certs[i], nil
			}
			return new(tls.Certificate), nil
		}
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			r.Error = err.Error()
			return r
		}
		cs := tc.ConnectionState()
		r.Version, r.Cipher = tlsVersions[cs.Version], tls.CipherSuiteName(cs.CipherSuite)
		if len(cs.PeerCertificates) > 0 {
			r.ServerSubject = cs.PeerCertificates[0].Subject.String()
		}
		rw = tc
	}
	u := strings.SplitN(strings.SplitN(t.URL, "://", 2)[1], "/", 2)
	req := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: %s\r\nX-Host-ID: skydive-emulator\r\nX-Client-Type: %s\r\nConnection: close\r\n\r\n", u[1], u[0], p.role)
	if _, err := io.WriteString(rw, req); err != nil {
		r.Error = err.Error()
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(rw), nil)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer resp.Body.Close()
	body, _ := ioutil.ReadAll(io.LimitReader(resp.Body, 512))
	r.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		r.Error = fmt.Sprintf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(body)))
		return r
	}
	r.OK = true
	return r
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func pairs(list []string, what string) ([][2]string, error) {
	var out [][2]string
	for _, kv := range list {
		i := strings.IndexByte(kv, '=')
		if i <= 0 {
			return nil, fmt.Errorf("-%s %q: want A=B", what, kv)
		}
		out = append(out, [2]string{kv[:i], kv[i+1:]})
	}
	return out, nil
}

type options struct {
	release  string
	mounts   multiFlag
	resolves multiFlag
}

func (c *options) register(fs *flag.FlagSet) {
	fs.StringVar(&c.release, "release", "", "legacy | 0.20 | 0.21 ... 0.26 | 0.27 | 0.28")
	fs.Var(&c.mounts, "mount", "A=B: read files configured under A from B (repeatable)")
	fs.Var(&c.resolves, "resolve", "NAME=IP: what the host's resolver answers for NAME; *=IP for any name (repeatable)")
}

func (c *options) process(role, settingsPath, envPath string, processEnv bool) (*process, error) {
	fam, err := parseRelease(c.release)
	if err != nil {
		return nil, err
	}
	if role != "agent" && role != "analyzer" {
		return nil, fmt.Errorf("-role %q: agent or analyzer", role)
	}
	cfg, err := loadSettings(settingsPath, envPath, processEnv)
	if err != nil {
		return nil, err
	}
	p := &process{fam: fam, release: c.release, role: role, cfg: cfg, resolved: map[string]string{}}
	ms, err := pairs(c.mounts, "mount")
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		p.mounts = append(p.mounts, mount{from: m[0], to: m[1]})
	}
	rs, err := pairs(c.resolves, "resolve")
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if net.ParseIP(r[1]) == nil {
			return nil, fmt.Errorf("-resolve %s=%s: not an IP address", r[0], r[1])
		}
		p.resolved[r[0]] = r[1]
	}
	return p, nil
}

// entries is the process's `analyzers:` list, with extra (the entry a dial
// names) appended when the list lacks it: the process is taken to have it.
func (p *process) entries(extra string) []string {
	list := p.cfg.GetStringSlice("analyzers")
	if extra == "" {
		return list
	}
	for _, e := range list {
		if e == extra {
			return list
		}
	}
	return append(list, extra)
}

func emit(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  skydive-emulator check -release R -role agent|analyzer -settings FILE.json [-env ENV.json] [-process-env=false] [-mount A=B ...] [-resolve NAME=IP ...]
  skydive-emulator serve -release R -role ROLE -settings FILE.json [-env ...] [-process-env=false] [-mount ...] [-resolve ...] [-listen 127.0.0.1:0]
  skydive-emulator dial  -release R -role ROLE -settings FILE.json [-env ...] [-process-env=false] [-mount ...] [-resolve ...] -connect 127.0.0.1:PORT [-analyzer ENTRY] [-no-client-cert]
  skydive-emulator pair  -release R -server-role ROLE -server-settings A.json [-server-env E.json] -client-role ROLE -client-settings B.json [-client-env E.json]
                         [-analyzer ENTRY] [-mount ...] [-resolve ...] [-no-client-cert]
FILE.json: the host's settings, {"tls.ca_cert": "/etc/skydive/tls/ca.crt", "analyzers": ["10.0.0.4:8082"], ...}
           (nested objects are flattened, keys lower-cased, as viper reads skydive.yml).
ENV.json:  environment variables, {"SKYDIVE_TLS_CA_CERT": "..."}, over the config; check/serve/dial also see
           their own SKYDIVE_* variables (under ENV.json's) unless -process-env=false; pair sees only its files.
Each mode prints one JSON line on stdout; serve then logs one JSON line per connection on stderr until stdin closes.
`)
	os.Exit(2)
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "skydive-emulator:", err)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	fs.Usage = usage
	var c options
	c.register(fs)
	switch mode {
	case "check":
		role := fs.String("role", "", "agent | analyzer")
		settingsPath := fs.String("settings", "", "settings JSON")
		envPath := fs.String("env", "", "environment JSON")
		processEnv := fs.Bool("process-env", true, "also read this process's own SKYDIVE_* variables")
		_ = fs.Parse(args)
		p, err := c.process(*role, *settingsPath, *envPath, *processEnv)
		if err != nil {
			die(err)
		}
		emit(p.start(p.entries("")))
	case "serve":
		role := fs.String("role", "", "agent | analyzer")
		settingsPath := fs.String("settings", "", "settings JSON")
		envPath := fs.String("env", "", "environment JSON")
		processEnv := fs.Bool("process-env", true, "also read this process's own SKYDIVE_* variables")
		listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
		_ = fs.Parse(args)
		p, err := c.process(*role, *settingsPath, *envPath, *processEnv)
		if err != nil {
			die(err)
		}
		serve(p, *listen)
	case "dial":
		role := fs.String("role", "", "agent | analyzer")
		settingsPath := fs.String("settings", "", "settings JSON")
		envPath := fs.String("env", "", "environment JSON")
		processEnv := fs.Bool("process-env", true, "also read this process's own SKYDIVE_* variables")
		entry := fs.String("analyzer", "", "the analyzers entry dialed (default: the first)")
		connect := fs.String("connect", "", "where the analyzer really listens (loopback)")
		noClientCert := fs.Bool("no-client-cert", false, "send no client certificate")
		_ = fs.Parse(args)
		p, err := c.process(*role, *settingsPath, *envPath, *processEnv)
		if err != nil {
			die(err)
		}
		if *connect == "" {
			die(errors.New("dial needs -connect"))
		}
		entries := p.entries(*entry)
		if *entry == "" {
			if len(entries) == 0 {
				die(errors.New("dial needs -analyzer, or settings with analyzers"))
			}
			*entry = entries[0]
		}
		r := p.dial(p.start(entries), *entry, *connect, *noClientCert)
		emit(r)
		if !r.OK {
			os.Exit(1)
		}
	case "pair":
		serverRole := fs.String("server-role", "analyzer", "agent | analyzer")
		serverSettings := fs.String("server-settings", "", "server settings JSON")
		serverEnv := fs.String("server-env", "", "server environment JSON")
		clientRole := fs.String("client-role", "agent", "agent | analyzer")
		clientSettings := fs.String("client-settings", "", "client settings JSON")
		clientEnv := fs.String("client-env", "", "client environment JSON")
		entry := fs.String("analyzer", "", "the analyzers entry dialed (default: the client's first)")
		noClientCert := fs.Bool("no-client-cert", false, "the client sends no certificate")
		_ = fs.Parse(args)
		srv, err := c.process(*serverRole, *serverSettings, *serverEnv, false)
		if err != nil {
			die(err)
		}
		cli, err := c.process(*clientRole, *clientSettings, *clientEnv, false)
		if err != nil {
			die(err)
		}
		r := pair(srv, cli, *entry, *noClientCert)
		emit(r)
		if !r.OK {
			os.Exit(1)
		}
	default:
		usage()
	}
}

type serveLine struct {
	Started    bool   `json:"started"`
	StartError string `json:"startError,omitempty"`
	Addr       string `json:"addr,omitempty"`
	TLS        bool   `json:"tls"`
	// RequireClientCert: clients without a certificate are refused.
	RequireClientCert bool `json:"requireClientCert"`
}

func serve(p *process, listen string) {
	st := p.start(p.entries(""))
	if !st.Started {
		emit(serveLine{StartError: st.StartError})
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		emit(serveLine{StartError: err.Error()})
		os.Exit(1)
	}
	emit(serveLine{Started: true, Addr: ln.Addr().String(), TLS: st.ServerTLS, RequireClientCert: st.RequireClientCert})
	var mu sync.Mutex
	go serveLoop(ln, st.serverConfig, func(l connLog) {
		out, _ := json.Marshal(l)
		mu.Lock()
		fmt.Fprintln(os.Stderr, string(out))
		mu.Unlock()
	})
	// Serve until stdin closes (the test's handle on this process) or a signal.
	_, _ = io.Copy(ioutil.Discard, os.Stdin)
	ln.Close()
	mu.Lock() // no half-written line
}

type pairResult struct {
	Release string `json:"release"`
	// OK: the client got its answer and the server saw no error.
	OK     bool       `json:"ok"`
	Server *startup   `json:"server"`
	Client *startup   `json:"client"`
	Dial   dialResult `json:"dial"`
	// ServerConn is what the server saw of the connection (null: nothing reached it).
	ServerConn *connLog `json:"serverConn"`
}

func pair(srv, cli *process, entry string, noClientCert bool) pairResult {
	r := pairResult{Release: srv.release}
	r.Server = srv.start(srv.entries(""))
	entries := cli.entries(entry)
	if entry == "" && len(entries) > 0 {
		entry = entries[0]
	}
	r.Client = cli.start(entries)
	if !r.Server.Started {
		r.Dial = dialResult{Entry: entry, Error: "the server did not start: " + r.Server.StartError}
		return r
	}
	if entry == "" {
		r.Dial = dialResult{Error: "no analyzers entry to dial"}
		return r
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Dial = dialResult{Error: err.Error()}
		return r
	}
	defer ln.Close()
	logs := make(chan connLog, 4)
	go serveLoop(ln, r.Server.serverConfig, func(l connLog) { logs <- l })
	r.Dial = cli.dial(r.Client, entry, ln.Addr().String(), noClientCert)
	// A dial that never connected leaves nothing to wait for.
	wait := timeout
	if !r.Dial.connected {
		wait = 0
	}
	select {
	case l := <-logs:
		r.ServerConn = &l
	case <-time.After(wait):
	}
	r.OK = r.Dial.OK && r.ServerConn != nil && r.ServerConn.Error == ""
	return r
}
