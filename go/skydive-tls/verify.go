package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

var usageByName = map[string]x509.ExtKeyUsage{
	"serverAuth": x509.ExtKeyUsageServerAuth,
	"clientAuth": x509.ExtKeyUsageClientAuth,
	"any":        x509.ExtKeyUsageAny,
}

var invalidReasons = map[x509.InvalidReason]string{
	x509.NotAuthorizedToSign:           "NotAuthorizedToSign",
	x509.Expired:                       "Expired",
	x509.CANotAuthorizedForThisName:    "CANotAuthorizedForThisName",
	x509.TooManyIntermediates:          "TooManyIntermediates",
	x509.IncompatibleUsage:             "IncompatibleUsage",
	x509.NameMismatch:                  "NameMismatch",
	x509.NameConstraintsWithoutSANs:    "NameConstraintsWithoutSANs",
	x509.UnconstrainedName:             "UnconstrainedName",
	x509.TooManyConstraints:            "TooManyConstraints",
	x509.CANotAuthorizedForExtKeyUsage: "CANotAuthorizedForExtKeyUsage",
}

// failure is a verdict that is not ok: kind says which step refused, error is
// Go's text verbatim where Go produced it.
func failure(kind string, err error) obj {
	o := obj{"ok": false, "kind": kind, "error": err.Error()}
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var constraint x509.ConstraintViolationError
	var critical x509.UnhandledCriticalExtension
	var sys x509.SystemRootsError
	var insecure x509.InsecureAlgorithmError
	switch {
	case errors.As(err, &inv):
		o["errorType"] = "CertificateInvalidError"
		if r, ok := invalidReasons[inv.Reason]; ok {
			o["reason"] = r
		}
	case errors.As(err, &host):
		o["errorType"] = "HostnameError"
	case errors.As(err, &unknown):
		o["errorType"] = "UnknownAuthorityError"
	case errors.As(err, &constraint):
		o["errorType"] = "ConstraintViolationError"
	case errors.As(err, &critical):
		o["errorType"] = "UnhandledCriticalExtension"
	case errors.As(err, &sys):
		o["errorType"] = "SystemRootsError"
	case errors.As(err, &insecure):
		o["errorType"] = "InsecureAlgorithmError"
	}
	return o
}

// rootsCache keeps the last roots PEM's pool: a fleet run verifies every
// host against the same CA file. A CertPool is not modified by Verify.
var rootsCache struct {
	pem  string
	pool *x509.CertPool
	ok   bool
}

// rootPool builds the trust pool exactly as Skydive's SetupTLSLoadCA does.
func rootPool(rootsPEM string) (*x509.CertPool, bool) {
	if rootsCache.pool != nil && rootsCache.pem == rootsPEM {
		return rootsCache.pool, rootsCache.ok
	}
	pool := x509.NewCertPool()
	ok := pool.AppendCertsFromPEM([]byte(rootsPEM))
	rootsCache.pem, rootsCache.pool, rootsCache.ok = rootsPEM, pool, ok
	return pool, ok
}

var errNoRoots = errors.New("no CERTIFICATE block in the roots PEM parses (x509.CertPool.AppendCertsFromPEM returned false; Skydive refuses this file)")

// chainCache keeps the last chain PEM's parsed certificates: validate asks for
// the same chain's trust for serverAuth, then clientAuth, then its names.
// Verify does not modify a Certificate or a CertPool.
var chainCache struct {
	pem   string
	leaf  *x509.Certificate
	inter *x509.CertPool
	fail  obj
}

// parseChain parses a chain PEM: the leaf, and the rest as intermediates.
func parseChain(pem string) (*x509.Certificate, *x509.CertPool, obj) {
	if chainCache.pem == pem && (chainCache.leaf != nil || chainCache.fail != nil) {
		return chainCache.leaf, chainCache.inter, chainCache.fail
	}
	var leaf *x509.Certificate
	var fail obj
	inter := x509.NewCertPool()
	for _, b := range decodePEM([]byte(pem)) {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			fail = failure("parse", err)
			fail["line"] = b.line
			leaf, inter = nil, nil
			break
		}
		if leaf == nil {
			leaf = c
		} else {
			inter.AddCert(c)
		}
	}
	if fail == nil && leaf == nil {
		fail = failure("chain", errors.New("no CERTIFICATE block in the chain PEM"))
	}
	chainCache.pem, chainCache.leaf, chainCache.inter, chainCache.fail = pem, leaf, inter, fail
	return leaf, inter, fail
}

type verifyRequest struct {
	chain, roots, name, usages, at string
}

// verify runs x509.Certificate.Verify on the chain's first certificate with
// the rest as intermediates. usages is a comma-separated list of names.
func verify(req verifyRequest) obj {
	leaf, inter, fail := parseChain(req.chain)
	if fail != nil {
		return fail
	}
	roots, ok := rootPool(req.roots)
	if !ok {
		return failure("roots", errNoRoots)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: req.name}
	if req.usages != "" {
		for _, u := range strings.Split(req.usages, ",") {
			k, ok := usageByName[u]
			if !ok {
				return failure("usage", fmt.Errorf("unknown usage %q (serverAuth, clientAuth or any)", u))
			}
			opts.KeyUsages = append(opts.KeyUsages, k)
		}
	}
	if req.at != "" {
		t, err := time.Parse(time.RFC3339Nano, req.at)
		if err != nil {
			return failure("time", err)
		}
		opts.CurrentTime = t
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return failure("verify", err)
	}
	out := make([]interface{}, len(chains))
	for i, ch := range chains {
		subjects := make([]interface{}, len(ch))
		for j, c := range ch {
			subjects[j] = c.Subject.String()
		}
		out[i] = subjects
	}
	return obj{"ok": true, "chains": out}
}

// verifyHostname runs x509.Certificate.VerifyHostname on the first certificate.
func verifyHostname(certPEM, name string) obj {
	for _, b := range decodePEM([]byte(certPEM)) {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			o := failure("parse", err)
			o["line"] = b.line
			return o
		}
		if err := c.VerifyHostname(name); err != nil {
			return failure("verify", err)
		}
		return obj{"ok": true}
	}
	return failure("chain", errors.New("no CERTIFICATE block in the PEM"))
}
