package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is the measured loop's HTTP/1.1 client: one keep-alive
// connection, one request at a time, the request bytes rebuilt only when
// the path or the cookies change. The load generator shares the machine
// with the server under test, and net/http's client spends several times
// the CPU of the cheapest servers per request; every cycle it saves goes
// to the server being measured. Sessions are created and checked with the
// ordinary client (client.do); this one only replays them.
type rawConn struct {
	host string // host:port
	conn net.Conn
	br   *bufio.Reader

	req        []byte // the request for reqPath and reqCookies
	reqPath    string
	reqCookies string
}

func newRawConn(base string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw client: base URL %q: want http://host:port", base)
	}
	return &rawConn{host: u.Host}, nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends GET path with the Cookie header cookies and returns the
// status code, the body and the name=value of each Set-Cookie.
func (c *rawConn) do(ctx context.Context, path, cookies string) (code int, body []byte, setCookies []string, err error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.host)
		if err != nil {
			return 0, nil, nil, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if c.req == nil || path != c.reqPath || cookies != c.reqCookies {
		c.req = c.req[:0]
		c.req = fmt.Appendf(c.req, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, c.host)
		if cookies != "" {
			c.req = fmt.Appendf(c.req, "Cookie: %s\r\n", cookies)
		}
		c.req = append(c.req, "\r\n"...)
		c.reqPath, c.reqCookies = path, cookies
	}
	if deadline, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(deadline)
	} else {
		c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	code, body, setCookies, keep, err := c.exchange()
	if err != nil || !keep {
		c.close()
	}
	return code, body, setCookies, err
}

var errBadResponse = errors.New("raw client: malformed response")

// exchange writes the request and reads one response.
func (c *rawConn) exchange() (code int, body []byte, setCookies []string, keep bool, err error) {
	if _, err = c.conn.Write(c.req); err != nil {
		return 0, nil, nil, false, err
	}
	line, err := c.line()
	if err != nil {
		return 0, nil, nil, false, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	if code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, nil, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	length, chunked := -1, false
	keep = line[7] == '1' // HTTP/1.1 keeps the connection by default
	for {
		line, err := c.line()
		if err != nil {
			return 0, nil, nil, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, nil, false, fmt.Errorf("%w: header %q", errBadResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, nil, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			nv, _, _ := bytes.Cut(value, []byte(";"))
			setCookies = append(setCookies, string(bytes.TrimSpace(nv)))
		}
	}
	switch {
	case chunked:
		body, err = c.chunked()
	case length >= 0:
		if length > 1<<20 {
			return 0, nil, nil, false, fmt.Errorf("%w: body of %d bytes", errBadResponse, length)
		}
		body = make([]byte, length)
		_, err = io.ReadFull(c.br, body)
	default:
		return 0, nil, nil, false, fmt.Errorf("%w: neither Content-Length nor chunked", errBadResponse)
	}
	if err != nil {
		return 0, nil, nil, false, err
	}
	return code, body, setCookies, keep, nil
}

// line reads one CRLF-terminated line without its terminator. The slice
// is valid until the next read.
func (c *rawConn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// chunked reads a chunked body.
func (c *rawConn) chunked() ([]byte, error) {
	var body []byte
	for {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 32)
		if err != nil || size < 0 || len(body)+int(size) > 1<<20 {
			return nil, fmt.Errorf("%w: chunk size %q", errBadResponse, line)
		}
		if size == 0 {
			// Trailers, then the final blank line.
			for {
				line, err := c.line()
				if err != nil {
					return nil, err
				}
				if len(line) == 0 {
					return body, nil
				}
			}
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(c.br, body[start:]); err != nil {
			return nil, err
		}
		if line, err := c.line(); err != nil || len(line) != 0 {
			return nil, fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
		}
	}
}
