package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"time"
)

// obj is a verdict handed to js.ValueOf.
type obj = map[string]interface{}

// pemBlock is a PEM block with the 1-based line of its BEGIN line.
type pemBlock struct {
	*pem.Block
	line int
}

// decodePEM splits data into blocks exactly as encoding/pem (and so
// AppendCertsFromPEM and tls.X509KeyPair) does, noting where each begins.
func decodePEM(data []byte) []pemBlock {
	var out []pemBlock
	rest := data
	line, scanned := 1, 0
	for {
		before := len(data) - len(rest)
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		end := len(data) - len(rest)
		start := before + bytes.LastIndex(data[before:end], []byte("-----BEGIN "+b.Type+"-----"))
		if start < before {
			start = before
		}
		line += bytes.Count(data[scanned:start], []byte{'\n'})
		scanned = start
		out = append(out, pemBlock{b, line})
	}
}

var keyUsageNames = []string{
	"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:                            "any",
	x509.ExtKeyUsageServerAuth:                     "serverAuth",
	x509.ExtKeyUsageClientAuth:                     "clientAuth",
	x509.ExtKeyUsageCodeSigning:                    "codeSigning",
	x509.ExtKeyUsageEmailProtection:                "emailProtection",
	x509.ExtKeyUsageIPSECEndSystem:                 "ipsecEndSystem",
	x509.ExtKeyUsageIPSECTunnel:                    "ipsecTunnel",
	x509.ExtKeyUsageIPSECUser:                      "ipsecUser",
	x509.ExtKeyUsageTimeStamping:                   "timeStamping",
	x509.ExtKeyUsageOCSPSigning:                    "OCSPSigning",
	x509.ExtKeyUsageMicrosoftServerGatedCrypto:     "msSGC",
	x509.ExtKeyUsageNetscapeServerGatedCrypto:      "nsSGC",
	x509.ExtKeyUsageMicrosoftCommercialCodeSigning: "msCodeCom",
	x509.ExtKeyUsageMicrosoftKernelCodeSigning:     "msKernelCodeSigning",
}

type extension struct {
	OID      string `json:"oid"`
	Critical bool   `json:"critical"`
}

// certificate is one CERTIFICATE block's verdict. A struct, not a map: JSON
// encoding of a struct is markedly faster in wasm (no key sorting).
type certificate struct {
	OK                          bool        `json:"ok"`
	Line                        int         `json:"line"`
	Error                       string      `json:"error,omitempty"`
	PEMHeaders                  bool        `json:"pemHeaders"`
	Subject                     string      `json:"subject"`
	Issuer                      string      `json:"issuer"`
	SerialHex                   string      `json:"serialHex"`
	SerialNegative              bool        `json:"serialNegative"`
	NotBefore                   string      `json:"notBefore"`
	NotAfter                    string      `json:"notAfter"`
	Version                     int         `json:"version"`
	SignatureAlgorithm          string      `json:"signatureAlgorithm"`
	PublicKeyAlgorithm          string      `json:"publicKeyAlgorithm"`
	KeyBits                     int         `json:"keyBits,omitempty"`
	Curve                       string      `json:"curve,omitempty"`
	IsCA                        bool        `json:"isCA"`
	BasicConstraintsValid       bool        `json:"basicConstraintsValid"`
	MaxPathLen                  int         `json:"maxPathLen"`
	MaxPathLenZero              bool        `json:"maxPathLenZero"`
	KeyUsage                    []string    `json:"keyUsage"`
	ExtKeyUsage                 []string    `json:"extKeyUsage"`
	UnknownExtKeyUsage          []string    `json:"unknownExtKeyUsage"`
	DNSNames                    []string    `json:"dnsNames"`
	IPAddresses                 []string    `json:"ipAddresses"`
	EmailAddresses              []string    `json:"emailAddresses"`
	URIs                        []string    `json:"uris"`
	SubjectKeyID                string      `json:"subjectKeyId"`
	AuthorityKeyID              string      `json:"authorityKeyId"`
	SelfSigned                  bool        `json:"selfSigned"`
	RawSHA256                   string      `json:"rawSha256"`
	PublicKeySHA256             string      `json:"publicKeySha256"`
	Extensions                  []extension `json:"extensions"`
	UnhandledCriticalExtensions []string    `json:"unhandledCriticalExtensions"`
}

type parseResult struct {
	Certificates  []interface{} `json:"certificates"`
	Skipped       int           `json:"skipped"`
	AppendCertsOK bool          `json:"appendCertsOk"`
}

type parseFailure struct {
	OK    bool   `json:"ok"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// keyInfo gives a public or private key's size in bits and its curve.
func keyInfo(key interface{}) (bits int, curve string) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen(), ""
	case *rsa.PrivateKey:
		return k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize, k.Curve.Params().Name
	case *ecdsa.PrivateKey:
		return k.Curve.Params().BitSize, k.Curve.Params().Name
	case ed25519.PublicKey, ed25519.PrivateKey:
		return 256, ""
	}
	return 0, ""
}

func describe(c *x509.Certificate, line int, headers bool) *certificate {
	o := &certificate{
		OK:                          true,
		Line:                        line,
		PEMHeaders:                  headers,
		Subject:                     c.Subject.String(),
		Issuer:                      c.Issuer.String(),
		SerialHex:                   c.SerialNumber.Text(16),
		SerialNegative:              c.SerialNumber.Sign() < 0,
		NotBefore:                   c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:                    c.NotAfter.UTC().Format(time.RFC3339),
		Version:                     c.Version,
		SignatureAlgorithm:          c.SignatureAlgorithm.String(),
		PublicKeyAlgorithm:          c.PublicKeyAlgorithm.String(),
		IsCA:                        c.IsCA,
		BasicConstraintsValid:       c.BasicConstraintsValid,
		MaxPathLen:                  c.MaxPathLen,
		MaxPathLenZero:              c.MaxPathLenZero,
		KeyUsage:                    []string{},
		ExtKeyUsage:                 []string{},
		UnknownExtKeyUsage:          []string{},
		DNSNames:                    nonNil(c.DNSNames),
		IPAddresses:                 make([]string, len(c.IPAddresses)),
		EmailAddresses:              nonNil(c.EmailAddresses),
		URIs:                        make([]string, len(c.URIs)),
		SubjectKeyID:                hex.EncodeToString(c.SubjectKeyId),
		AuthorityKeyID:              hex.EncodeToString(c.AuthorityKeyId),
		SelfSigned:                  bytes.Equal(c.RawIssuer, c.RawSubject),
		Extensions:                  make([]extension, len(c.Extensions)),
		UnhandledCriticalExtensions: make([]string, len(c.UnhandledCriticalExtensions)),
	}
	o.KeyBits, o.Curve = keyInfo(c.PublicKey)
	for i, name := range keyUsageNames {
		if c.KeyUsage&(1<<uint(i)) != 0 {
			o.KeyUsage = append(o.KeyUsage, name)
		}
	}
	for _, u := range c.ExtKeyUsage {
		if name, ok := extKeyUsageNames[u]; ok {
			o.ExtKeyUsage = append(o.ExtKeyUsage, name)
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		o.UnknownExtKeyUsage = append(o.UnknownExtKeyUsage, oid.String())
	}
	for i, ip := range c.IPAddresses {
		o.IPAddresses[i] = ip.String()
	}
	for i, u := range c.URIs {
		o.URIs[i] = u.String()
	}
	for i, e := range c.Extensions {
		o.Extensions[i] = extension{e.Id.String(), e.Critical}
	}
	for i, oid := range c.UnhandledCriticalExtensions {
		o.UnhandledCriticalExtensions[i] = oid.String()
	}
	sum := sha256.Sum256(c.Raw)
	o.RawSHA256 = hex.EncodeToString(sum[:])
	pub := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	o.PublicKeySHA256 = hex.EncodeToString(pub[:])
	return o
}

// parse reports x509.ParseCertificate's verdict on every CERTIFICATE block,
// and whether x509.CertPool.AppendCertsFromPEM accepts the text.
func parse(pemText string) parseResult {
	data := []byte(pemText)
	r := parseResult{Certificates: []interface{}{}}
	for _, b := range decodePEM(data) {
		if b.Type != "CERTIFICATE" {
			r.Skipped++
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			r.Certificates = append(r.Certificates, parseFailure{Line: b.line, Error: err.Error()})
			continue
		}
		// AppendCertsFromPEM skips a CERTIFICATE block that has PEM headers.
		r.Certificates = append(r.Certificates, describe(c, b.line, len(b.Headers) != 0))
	}
	r.AppendCertsOK = x509.NewCertPool().AppendCertsFromPEM(data)
	return r
}
