package signer_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tollgate-dev/tollgate/signer"
)

// A receiver verifies each delivery with the secret the control API handed it
// (GET /v1/tenants/{tenant}/signing-keys/{id}/secret?host=H).
func ExampleVerifyRequest() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// The receiver's clock; production code passes time.Now().
	now := time.Unix(1614265330, 0)

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if err := signer.VerifyRequest(secret, r.Header, body, now, signer.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "verified")
	})

	send := func(body string) {
		req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewBufferString(body))
		req.Header["webhook-id"] = []string{"msg_p5jXN8AQM9LWM0D4loKWxJek"}
		req.Header["webhook-timestamp"] = []string{"1614265330"}
		req.Header["webhook-signature"] = []string{"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body.String())
	}
	send(`{"test": 2432232314}`)
	send(`{"test": 1}`)
	// Output:
	// 200 verified
	// 401 no matching webhook signature: checked 1 v1 signature(s) against 1 key(s)
}
