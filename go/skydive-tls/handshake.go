package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"time"
)

// keyPair is what Skydive's tls.LoadX509KeyPair does once it has read the files.
func keyPair(certPEM, keyPEM string) obj {
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return failure("keyPair", err)
	}
	o := obj{"ok": true, "chainLength": len(pair.Certificate)}
	switch pair.PrivateKey.(type) {
	case *rsa.PrivateKey:
		o["keyType"] = "RSA"
	case *ecdsa.PrivateKey:
		o["keyType"] = "ECDSA"
	case ed25519.PrivateKey:
		o["keyType"] = "Ed25519"
	}
	bits, curve := keyInfo(pair.PrivateKey)
	o["keyBits"] = bits
	if curve != "" {
		o["curve"] = curve
	}
	return o
}

type handshakeRequest struct {
	Release string `json:"release"`
	Server  struct {
		Cert              string `json:"cert"`
		Key               string `json:"key"`
		ClientCAs         string `json:"clientCAs"`
		RequireClientCert bool   `json:"requireClientCert"`
	} `json:"server"`
	Client struct {
		Cert       string `json:"cert"`
		Key        string `json:"key"`
		Roots      string `json:"roots"`
		MaxVersion string `json:"maxVersion"`
	} `json:"client"`
	ServerName string `json:"serverName"`
	Time       string `json:"time"`
	TimeoutMs  int    `json:"timeoutMs"`
}

var versionNames = map[uint16]string{
	tls.VersionTLS10: "TLS1.0",
	tls.VersionTLS11: "TLS1.1",
	tls.VersionTLS12: "TLS1.2",
	tls.VersionTLS13: "TLS1.3",
}

func setupFailure(what string, err error) obj {
	return obj{"ok": false, "setup": what, "setupError": err.Error(), "clientCertPresented": false}
}

// serverConfig is Skydive's SetupTLSServerConfig plus what GetTLSServerConfig
// adds, per release family.
func serverConfig(release string, pair tls.Certificate, clientCAs *x509.CertPool, require bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	cfg.MinVersion = tls.VersionTLS12
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256}
	cfg.PreferServerCipherSuites = true
	cfg.CipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	}
	// tls.require_client_cert exists from v0.27 on.
	if release == "0.27" && require {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	cfg.ClientCAs = clientCAs
	return cfg
}

// handshake runs a real tls.Server and tls.Client, configured as Skydive's
// release family configures them, over an in-memory connection. It blocks:
// call it from a goroutine, never from a js.FuncOf callback directly.
func handshake(req handshakeRequest) obj {
	switch req.Release {
	case "legacy", "0.21", "0.27":
	default:
		return setupFailure("release", errors.New("unknown release "+req.Release+" (legacy, 0.21 or 0.27)"))
	}
	serverPair, err := tls.X509KeyPair([]byte(req.Server.Cert), []byte(req.Server.Key))
	if err != nil {
		return setupFailure("serverKeyPair", err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM([]byte(req.Server.ClientCAs)) {
		return setupFailure("clientCAs", errNoRoots)
	}
	scfg := serverConfig(req.Release, serverPair, clientCAs, req.Server.RequireClientCert)

	// Skydive's client: its pair (if any), the trust pool, and the dialed host
	// as ServerName (set by Go's http and websocket clients).
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(req.Client.Roots)) {
		return setupFailure("roots", errNoRoots)
	}
	ccfg := &tls.Config{RootCAs: roots, ServerName: req.ServerName}
	if req.Client.Cert != "" || req.Client.Key != "" {
		pair, err := tls.X509KeyPair([]byte(req.Client.Cert), []byte(req.Client.Key))
		if err != nil {
			return setupFailure("clientKeyPair", err)
		}
		ccfg.Certificates = []tls.Certificate{pair}
	}
	switch req.Client.MaxVersion {
	case "":
	case "TLS1.2":
		ccfg.MaxVersion = tls.VersionTLS12
	case "TLS1.3":
		ccfg.MaxVersion = tls.VersionTLS13
	default:
		return setupFailure("maxVersion", errors.New("unknown maxVersion "+req.Client.MaxVersion+" (TLS1.2 or TLS1.3)"))
	}
	// The client's choice of certificate, observed: this is crypto/tls's own
	// selection when GetClientCertificate is nil (Conn.getClientCertificate).
	presented := false
	ccfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		for i := range ccfg.Certificates {
			if err := cri.SupportsCertificate(&ccfg.Certificates[i]); err != nil {
				continue
			}
			presented = true
			return &ccfg.Certificates[i], nil
		}
		return new(tls.Certificate), nil
	}
	if req.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, req.Time)
		if err != nil {
			return setupFailure("time", err)
		}
		now := func() time.Time { return t }
		scfg.Time, ccfg.Time = now, now
	}
	timeout := 10 * time.Second
	if req.TimeoutMs > 0 {
		timeout = time.Duration(req.TimeoutMs) * time.Millisecond
	}

	sconn, cconn := memConnPair()
	deadline := time.Now().Add(timeout)
	sconn.SetDeadline(deadline)
	cconn.SetDeadline(deadline)
	server, client := tls.Server(sconn, scfg), tls.Client(cconn, ccfg)

	var wg sync.WaitGroup
	var serverErr, clientErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer sconn.Close()
		if serverErr = server.Handshake(); serverErr != nil {
			return
		}
		// Read the client's byte: in TLS 1.3 the server judges the client's
		// certificate after the client's Handshake has returned.
		b := make([]byte, 1)
		if _, serverErr = server.Read(b); serverErr != nil {
			return
		}
		_, serverErr = server.Write(b)
	}()
	var state tls.ConnectionState
	go func() {
		defer wg.Done()
		defer cconn.Close()
		if clientErr = client.Handshake(); clientErr != nil {
			return
		}
		state = client.ConnectionState()
		if _, clientErr = client.Write([]byte{'k'}); clientErr != nil {
			return
		}
		_, clientErr = client.Read(make([]byte, 1))
	}()
	wg.Wait()

	o := obj{"ok": serverErr == nil && clientErr == nil, "clientCertPresented": presented}
	if scfg.ClientAuth == tls.RequireAndVerifyClientCert {
		o["clientAuth"] = "RequireAndVerifyClientCert"
	} else {
		o["clientAuth"] = "VerifyClientCertIfGiven"
	}
	if state.HandshakeComplete {
		o["version"] = versionNames[state.Version]
		o["cipher"] = tls.CipherSuiteName(state.CipherSuite)
	}
	if serverErr != nil {
		o["serverError"] = serverErr.Error()
	}
	if clientErr != nil {
		o["clientError"] = clientErr.Error()
	}
	return o
}
