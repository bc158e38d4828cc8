package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/tollgate-dev/tollgate"
)

// refusalBody is the JSON body of every response the proxy makes itself.
type refusalBody struct {
	Error     tollgate.Reason `json:"error"`
	Detail    string          `json:"detail"`
	RequestID string          `json:"request_id"`
}

// refusal builds the response of SPEC §6: the code as the reason phrase
// (Go clients surface only the status line of a failed CONNECT), the
// Tollgate-Reason and Tollgate-Request-Id headers and a JSON body.
func refusal(ex *exchange, d tollgate.Decision, retryAfter string) *http.Response {
	body, _ := json.Marshal(refusalBody{Error: d.Reason, Detail: d.Detail, RequestID: ex.id})
	body = append(body, '\n')
	code := d.Reason.Status()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Tollgate-Reason", string(d.Reason))
	h.Set("Tollgate-Request-Id", ex.id)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	switch d.Reason {
	case tollgate.ReasonProxyAuthRequired:
		h.Set("Proxy-Authenticate", `Basic realm="tollgate"`)
	case tollgate.ReasonQuotaExceeded:
		if retryAfter == "" {
			retryAfter = "1"
		}
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + string(d.Reason),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

// writeRaw writes a response on a connection the proxy owns (hijacked or
// intercepted), keeping the custom reason phrase that net/http's
// ResponseWriter cannot send. The connection is closed afterwards by the
// caller, so it says so.
func writeRaw(w io.Writer, resp *http.Response) error {
	resp.Close = true
	resp.Header.Set("Connection", "close")
	bw := bufio.NewWriter(w)
	if err := resp.Write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// refuseHTTP answers a non-CONNECT request with a refusal. It hijacks the
// connection to keep the reason phrase exact and closes it afterwards.
func refuseHTTP(w http.ResponseWriter, resp *http.Response) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (e.g. HTTP/2): the status code and headers still carry the reason.
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	defer conn.Close()
	_ = writeRaw(conn, resp)
}
