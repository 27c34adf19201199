// Command go-judge is the native half of test/differential.test.ts: Go's own
// crypto/x509 and crypto/tls, built for the host with the same Go as
// go/skydive-tls (Debian go1.19.8), judge the files a Skydive host reads, the
// way Skydive reads them. Standard library only; built with GO111MODULE=off.
//
// Requests are JSON, one per line, on stdin (or in the file named by the only
// argument); each gets one JSON line back, in order. A request:
//
//	{"id": "v1", "chain": "/x/chain.pem", "key": "/x/leaf.key", "roots": "/x/roots.pem",
//	 "time": "2026-01-02T03:04:05.5Z", "usages": ["serverAuth", "clientAuth"], "names": ["analyzer.example"]}
//
// The answer:
//
//   - chain, roots: every CERTIFICATE block as encoding/pem finds it, with
//     x509.ParseCertificate's verdict; whether
//     x509.NewCertPool().AppendCertsFromPEM accepts the file (Skydive's
//     SetupTLSLoadCA refuses a roots file when not).
//   - keyPair: tls.LoadX509KeyPair(chain, key), as Skydive loads its pairs.
//   - verify[usage]: what a Skydive peer's crypto/tls does with the chain the
//     host presents: every CERTIFICATE block of the chain file parsed (a peer
//     refuses the handshake when one does not), then the first one's
//     Verify(VerifyOptions{Roots: the roots pool, Intermediates: the rest,
//     KeyUsages: [usage], CurrentTime: time}).
//   - hostnames[name]: the first certificate's VerifyHostname(name).
//
// Error texts are Go's err.Error(), verbatim. Nothing read is ever printed:
// the files may hold private keys.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

type request struct {
	ID     string   `json:"id"`
	Chain  string   `json:"chain"`
	Key    string   `json:"key,omitempty"`
	Roots  string   `json:"roots"`
	Time   string   `json:"time"`
	Usages []string `json:"usages"`
	Names  []string `json:"names"`
}

// block is one CERTIFICATE block of a file and x509.ParseCertificate's verdict on it.
type block struct {
	// Line is the 1-based line of its BEGIN line.
	Line    int    `json:"line"`
	Headers bool   `json:"headers"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

type fileReport struct {
	ReadError string  `json:"readError,omitempty"`
	Blocks    []block `json:"blocks"`
	// Other counts the blocks of other types (keys, requests...).
	Other int `json:"other"`
	// AppendCertsOK is x509.NewCertPool().AppendCertsFromPEM(file).
	AppendCertsOK bool `json:"appendCertsOk"`
}

// verdict: ok, or the step that refused and Go's error text.
type verdict struct {
	OK bool `json:"ok"`
	// Stage: "read" (a file), "chain" (no CERTIFICATE block), "parse" (a block
	// x509.ParseCertificate refuses), "roots" (AppendCertsFromPEM false),
	// "time", "usage", "keyPair", "verify".
	Stage  string     `json:"stage,omitempty"`
	Error  string     `json:"error,omitempty"`
	Chains [][]string `json:"chains,omitempty"`
}

type response struct {
	ID string `json:"id"`
	// Go is runtime.Version() of this build.
	Go        string             `json:"go"`
	Chain     fileReport         `json:"chain"`
	Roots     fileReport         `json:"roots"`
	KeyPair   *verdict           `json:"keyPair,omitempty"`
	Verify    map[string]verdict `json:"verify"`
	Hostnames map[string]verdict `json:"hostnames"`
	// Error: the request itself could not be read.
	Error string `json:"error,omitempty"`
}

var usages = map[string]x509.ExtKeyUsage{
	"serverAuth": x509.ExtKeyUsageServerAuth,
	"clientAuth": x509.ExtKeyUsageClientAuth,
	"any":        x509.ExtKeyUsageAny,
}

// certBlocks walks data with pem.Decode, as tls.X509KeyPair and
// AppendCertsFromPEM do, and returns the CERTIFICATE blocks with their lines.
func certBlocks(data []byte) (blocks []*pem.Block, lines []int, other int) {
	rest := data
	for {
		before := len(data) - len(rest)
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return
		}
		if b.Type != "CERTIFICATE" {
			other++
			continue
		}
		end := len(data) - len(rest)
		start := before + bytes.LastIndex(data[before:end], []byte("-----BEGIN CERTIFICATE-----"))
		if start < before {
			start = before
		}
		blocks = append(blocks, b)
		lines = append(lines, 1+bytes.Count(data[:start], []byte{'\n'}))
	}
}

// chainFile is a chain file as a Skydive peer receives it: the leaf, the rest
// as intermediates, or the first refusal.
type chainFile struct {
	report        fileReport
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
	// refusal: the first block refused (a peer's crypto/tls parses them all);
	// leafRefusal: the first block's own.
	refusal, leafRefusal *verdict
}

func readChain(path string) chainFile {
	var out chainFile
	out.report.Blocks = []block{}
	data, err := os.ReadFile(path)
	if err != nil {
		out.report.ReadError = err.Error()
		out.refusal = &verdict{Stage: "read", Error: err.Error()}
		out.leafRefusal = out.refusal
		return out
	}
	blocks, lines, other := certBlocks(data)
	out.report.Other = other
	out.report.AppendCertsOK = x509.NewCertPool().AppendCertsFromPEM(data)
	for i, b := range blocks {
		c, err := x509.ParseCertificate(b.Bytes)
		rep := block{Line: lines[i], Headers: len(b.Headers) != 0, OK: err == nil}
		switch {
		case err != nil:
			rep.Error = err.Error()
			if out.refusal == nil {
				out.refusal = &verdict{Stage: "parse", Error: err.Error()}
			}
			if i == 0 {
				out.leafRefusal = out.refusal
			}
		case i == 0:
			out.leaf = c
		default:
			out.intermediates = append(out.intermediates, c)
		}
		out.report.Blocks = append(out.report.Blocks, rep)
	}
	if len(blocks) == 0 {
		out.refusal = &verdict{Stage: "chain", Error: "no CERTIFICATE block"}
		out.leafRefusal = out.refusal
	}
	return out
}

func judge(req request) response {
	res := response{ID: req.ID, Go: runtime.Version(), Verify: map[string]verdict{}, Hostnames: map[string]verdict{}}
	chain := readChain(req.Chain)
	res.Chain = chain.report

	if req.Key != "" {
		v := verdict{OK: true}
		if _, err := tls.LoadX509KeyPair(req.Chain, req.Key); err != nil {
			v = verdict{Stage: "keyPair", Error: err.Error()}
		}
		res.KeyPair = &v
	}

	// The roots pool exactly as Skydive's SetupTLSLoadCA builds it.
	var pool *x509.CertPool
	var rootsRefusal *verdict
	res.Roots.Blocks = []block{}
	if data, err := os.ReadFile(req.Roots); err != nil {
		res.Roots.ReadError = err.Error()
		rootsRefusal = &verdict{Stage: "read", Error: err.Error()}
	} else {
		blocks, lines, other := certBlocks(data)
		res.Roots.Other = other
		for i, b := range blocks {
			_, err := x509.ParseCertificate(b.Bytes)
			rep := block{Line: lines[i], Headers: len(b.Headers) != 0, OK: err == nil}
			if err != nil {
				rep.Error = err.Error()
			}
			res.Roots.Blocks = append(res.Roots.Blocks, rep)
		}
		pool = x509.NewCertPool()
		res.Roots.AppendCertsOK = pool.AppendCertsFromPEM(data)
		if !res.Roots.AppendCertsOK {
			// Skydive's own message quotes the file; this one must not.
			rootsRefusal = &verdict{Stage: "roots", Error: "x509.CertPool.AppendCertsFromPEM returned false (Skydive: Failed to parse root certificate)"}
		}
	}

	var at time.Time
	var timeRefusal *verdict
	if req.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, req.Time)
		if err != nil {
			timeRefusal = &verdict{Stage: "time", Error: err.Error()}
		}
		at = t
	}

	for _, u := range req.Usages {
		switch {
		case chain.refusal != nil:
			res.Verify[u] = *chain.refusal
			continue
		case rootsRefusal != nil:
			res.Verify[u] = *rootsRefusal
			continue
		case timeRefusal != nil:
			res.Verify[u] = *timeRefusal
			continue
		}
		usage, ok := usages[u]
		if !ok {
			res.Verify[u] = verdict{Stage: "usage", Error: fmt.Sprintf("unknown usage %q", u)}
			continue
		}
		inter := x509.NewCertPool()
		for _, c := range chain.intermediates {
			inter.AddCert(c)
		}
		chains, err := chain.leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: at})
		if err != nil {
			res.Verify[u] = verdict{Stage: "verify", Error: err.Error()}
			continue
		}
		v := verdict{OK: true}
		for _, ch := range chains {
			subjects := []string{}
			for _, c := range ch {
				subjects = append(subjects, c.Subject.String())
			}
			v.Chains = append(v.Chains, subjects)
		}
		res.Verify[u] = v
	}

	for _, name := range req.Names {
		// VerifyHostname reads the leaf alone.
		if chain.leafRefusal != nil {
			res.Hostnames[name] = *chain.leafRefusal
			continue
		}
		if err := chain.leaf.VerifyHostname(name); err != nil {
			res.Hostnames[name] = verdict{Stage: "verify", Error: err.Error()}
			continue
		}
		res.Hostnames[name] = verdict{OK: true}
	}
	return res
}

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: go-judge [REQUESTS.jsonl]  (default: stdin)")
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-judge:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) == 0 {
			continue
		}
		var req request
		var res response
		if err := json.Unmarshal(line, &req); err != nil {
			res = response{ID: req.ID, Go: runtime.Version(), Error: "request: " + err.Error()}
		} else {
			res = judge(req)
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "go-judge:", err)
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "go-judge:", err)
		os.Exit(1)
	}
}
