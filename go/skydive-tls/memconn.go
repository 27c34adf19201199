package main

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipe is one direction of an in-memory connection. Writes append to a buffer
// and never block, so both TLS peers may write at once (after a
// HelloRetryRequest, both send a ChangeCipherSpec before reading), which an
// unbuffered net.Pipe turns into a deadlock.
type pipe struct {
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	closed   bool // no more data will come (writer closed, or reader closed)
	deadline time.Time
	timer    *time.Timer
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.buf) > 0 {
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			return n, nil
		}
		if p.closed {
			return 0, io.EOF
		}
		if !p.deadline.IsZero() && !time.Now().Before(p.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		p.cond.Wait()
	}
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *pipe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.cond.Broadcast()
}

func (p *pipe) setDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if !t.IsZero() && !p.closed {
		p.timer = time.AfterFunc(time.Until(t), func() {
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		})
	}
}

type memAddr string

func (a memAddr) Network() string { return "memory" }
func (a memAddr) String() string  { return string(a) }

// memConn is one end of an in-memory net.Conn pair. Read deadlines are real;
// writes never block, so write deadlines have nothing to interrupt.
type memConn struct {
	r, w          *pipe
	local, remote memAddr
}

func memConnPair() (*memConn, *memConn) {
	a, b := newPipe(), newPipe()
	return &memConn{r: a, w: b, local: "server", remote: "client"},
		&memConn{r: b, w: a, local: "client", remote: "server"}
}

func (c *memConn) Read(b []byte) (int, error)  { return c.r.read(b) }
func (c *memConn) Write(b []byte) (int, error) { return c.w.write(b) }
func (c *memConn) Close() error {
	c.r.close()
	c.w.close()
	return nil
}
func (c *memConn) LocalAddr() net.Addr                { return c.local }
func (c *memConn) RemoteAddr() net.Addr               { return c.remote }
func (c *memConn) SetDeadline(t time.Time) error      { c.r.setDeadline(t); return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { c.r.setDeadline(t); return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }
