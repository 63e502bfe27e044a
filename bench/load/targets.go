package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The three ways in that the benchmark measures.

// RaftlabHTTP writes through Raftlab's KV API: PUT /kv/{key} with the value
// as the body; 200 once applied on the member that took it.
type RaftlabHTTP struct{}

func (RaftlabHTTP) Name() string { return "raftlab" }

func (RaftlabHTTP) NewConn(endpoint string, maxClients int) (Conn, error) {
	return newHTTPConn(endpoint, maxClients), nil
}

// EtcdHTTP writes through etcd's HTTP/JSON gateway (grpc-gateway in front
// of the same gRPC server, on the client port): POST /v3/kv/put with the
// key and value in base64.
type EtcdHTTP struct{}

func (EtcdHTTP) Name() string { return "etcd-http" }

func (EtcdHTTP) NewConn(endpoint string, maxClients int) (Conn, error) {
	return &etcdHTTPConn{newHTTPConn(endpoint, maxClients)}, nil
}

// EtcdGRPC writes with etcd's own Go client (clientv3.Put over gRPC). Each
// connection is a clientv3.Client with one endpoint.
type EtcdGRPC struct{}

func (EtcdGRPC) Name() string { return "etcd-grpc" }

func (EtcdGRPC) NewConn(endpoint string, _ int) (Conn, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, err
	}
	return etcdGRPCConn{cli}, nil
}

type etcdGRPCConn struct{ cli *clientv3.Client }

func (c etcdGRPCConn) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.cli.Put(ctx, key, string(value))
	return err
}

func (c etcdGRPCConn) Close() error { return c.cli.Close() }

// httpConn is an HTTP/1.1 client with keep-alive connections to one
// member, as many as clients share it.
type httpConn struct {
	endpoint string
	hc       *http.Client
}

func newHTTPConn(endpoint string, maxClients int) *httpConn {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxClients,
		MaxIdleConnsPerHost: maxClients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &httpConn{endpoint: endpoint, hc: &http.Client{Transport: tr}}
}

func (c *httpConn) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// do sends a request and checks for 200. The body is always read to its
// end, or the connection could not be reused.
// op names the request in errors without the key, so that the same
// failure reads the same for every key.
func (c *httpConn) do(ctx context.Context, op, method, path, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		if len(b) > 200 {
			b = b[:200]
		}
		return fmt.Errorf("%s: %d %s", op, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

func (c *httpConn) Put(ctx context.Context, key string, value []byte) error {
	return c.do(ctx, "PUT /kv", http.MethodPut, "/kv/"+key, "application/octet-stream", value)
}

type etcdHTTPConn struct{ *httpConn }

// putRequest is etcd's PutRequest in the gateway's JSON: bytes fields are
// base64, which encoding/json does for []byte.
type putRequest struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

func (c *etcdHTTPConn) Put(ctx context.Context, key string, value []byte) error {
	body, err := json.Marshal(putRequest{Key: []byte(key), Value: value})
	if err != nil {
		return err
	}
	return c.do(ctx, "POST /v3/kv/put", http.MethodPost, "/v3/kv/put", "application/json", body)
}
