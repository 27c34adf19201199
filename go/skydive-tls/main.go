// Command skydive-tls exposes Go's crypto/x509 and crypto/tls, configured as
// Skydive configures them, to JavaScript as globalThis.skydiveTls (GOOS=js
// GOARCH=wasm). See README.md.
package main

import (
	"encoding/json"
	"runtime"
	"syscall/js"
)

// out encodes a verdict as JSON text, which the caller JSON.parses. Measured
// against js.ValueOf of the same verdict: as fast for verify's small objects,
// twice as fast for parse's (each property js.ValueOf sets is a call into JS).
func out(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func str(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

// promise runs work in a goroutine and settles a JS Promise with its JSON
// result: a js.FuncOf callback that blocks deadlocks Go's wasm runtime.
func promise(work func() interface{}) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(this js.Value, args []js.Value) interface{} {
		resolve, reject := args[0], args[1]
		executor.Release()
		go func() {
			defer func() {
				if r := recover(); r != nil {
					msg := "unknown"
					switch e := r.(type) {
					case error:
						msg = e.Error()
					case string:
						msg = e
					}
					reject.Invoke(js.Global().Get("Error").New("skydive-tls: panic: " + msg))
				}
			}()
			resolve.Invoke(out(work()))
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

func main() {
	api := map[string]interface{}{
		// version() -> runtime.Version()
		"version": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			return runtime.Version()
		}),
		// parse(pem) -> JSON
		"parse": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			return out(parse(str(args, 0)))
		}),
		// keyPair(certPem, keyPem) -> JSON
		"keyPair": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			return out(keyPair(str(args, 0), str(args, 1)))
		}),
		// verify(chainPem, rootsPem, name, usages (comma-separated), time (RFC 3339)) -> JSON
		"verify": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			return out(verify(verifyRequest{chain: str(args, 0), roots: str(args, 1), name: str(args, 2), usages: str(args, 3), at: str(args, 4)}))
		}),
		// verifyHostname(certPem, name) -> JSON
		"verifyHostname": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			return out(verifyHostname(str(args, 0), str(args, 1)))
		}),
		// handshake(JSON of the request) -> Promise of JSON
		"handshake": js.FuncOf(func(this js.Value, args []js.Value) interface{} {
			text := str(args, 0)
			return promise(func() interface{} {
				var req handshakeRequest
				if err := json.Unmarshal([]byte(text), &req); err != nil {
					return setupFailure("request", err)
				}
				return handshake(req)
			})
		}),
	}
	js.Global().Set("skydiveTls", js.ValueOf(api))
	select {}
}
