// A Skydive analyzer and agent in one process, with the Go TLS settings of
// Skydive (see ../shared/skydive-tls.md): the strictest real peer skycert's
// certificates meet. Usage:
//   skydive-handshake -server-cert A.crt -server-key A.key -client-ca B.crt \
//                     -client-cert B.crt -client-key B.key -root-ca A.crt -dial NAME
// Prints one JSON line; exits 0 when both sides completed the handshake.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"time"
)

type result struct {
	OK      bool   `json:"ok"`
	Side    string `json:"side,omitempty"`
	Error   string `json:"error,omitempty"`
	Version string `json:"version,omitempty"`
	Cipher  string `json:"cipher,omitempty"`
}

func pool(path string) *x509.CertPool {
	p := x509.NewCertPool()
	pem, err := ioutil.ReadFile(path)
	if err != nil || !p.AppendCertsFromPEM(pem) {
		finish(result{Side: "setup", Error: fmt.Sprintf("cannot load trust pool %s: %v", path, err)})
	}
	return p
}

func finish(r result) {
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if r.OK {
		os.Exit(0)
	}
	os.Exit(1)
}

func main() {
	serverCert := flag.String("server-cert", "", "analyzer certificate")
	serverKey := flag.String("server-key", "", "analyzer key")
	clientCA := flag.String("client-ca", "", "what the analyzer trusts for agents")
	clientCert := flag.String("client-cert", "", "agent certificate")
	clientKey := flag.String("client-key", "", "agent key")
	rootCA := flag.String("root-ca", "", "what the agent trusts for the analyzer")
	dial := flag.String("dial", "127.0.0.1", "the name or address the agent dials")
	flag.Parse()

	srvPair, err := tls.LoadX509KeyPair(*serverCert, *serverKey)
	if err != nil {
		finish(result{Side: "analyzer", Error: err.Error()})
	}
	cliPair, err := tls.LoadX509KeyPair(*clientCert, *clientKey)
	if err != nil {
		finish(result{Side: "agent", Error: err.Error()})
	}
	// Skydive's analyzer (SetupTLSServerConfig plus client verification).
	serverConfig := &tls.Config{
		MinVersion:               tls.VersionTLS12,
		CurvePreferences:         []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256},
		PreferServerCipherSuites: true,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		},
		Certificates: []tls.Certificate{srvPair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(*clientCA),
	}
	// Skydive's agent: its pair, the analyzer's trust pool, the dialed name.
	clientConfig := &tls.Config{
		Certificates: []tls.Certificate{cliPair},
		RootCAs:      pool(*rootCA),
		ServerName:   *dial,
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverConfig)
	if err != nil {
		finish(result{Side: "analyzer", Error: err.Error()})
	}
	serverErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			serverErr <- err
			return
		}
		_, err = c.Write([]byte("ok"))
		serverErr <- err
	}()

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), clientConfig)
	if err != nil {
		finish(result{Side: "agent", Error: err.Error()})
	}
	defer conn.Close()
	buf := make([]byte, 2)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, readErr := conn.Read(buf)
	if err := <-serverErr; err != nil {
		finish(result{Side: "analyzer", Error: err.Error()})
	}
	if readErr != nil {
		finish(result{Side: "agent", Error: readErr.Error()})
	}
	st := conn.ConnectionState()
	versions := map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3"}
	finish(result{OK: true, Version: versions[st.Version], Cipher: tls.CipherSuiteName(st.CipherSuite)})
}
