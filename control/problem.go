package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/control/client"
)

// problemType is the base of the problem "type" URIs. They name the failure
// class; they are identifiers, not fetched.
const problemType = "https://tollgate.dev/problems/"

// apiError is a failure that maps to one problem document.
type apiError struct {
	status int
	kind   string // suffix of the type URI
	detail string
	fields []client.FieldError
}

func (e *apiError) Error() string { return e.detail }

func errf(status int, kind, format string, args ...any) *apiError {
	return &apiError{status: status, kind: kind, detail: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "bad-request", format, args...)
}

func notFound(what string) *apiError {
	return errf(http.StatusNotFound, "not-found", "%s does not exist", what)
}

func forbidden(format string, args ...any) *apiError {
	return errf(http.StatusForbidden, "forbidden", format, args...)
}

func conflict(format string, args ...any) *apiError {
	return errf(http.StatusConflict, "conflict", format, args...)
}

// validationError collects field errors; nil when there are none.
type validationError struct{ fields []client.FieldError }

func (v *validationError) add(field, format string, args ...any) {
	v.fields = append(v.fields, client.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validationError) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	names := make([]string, len(v.fields))
	for i, f := range v.fields {
		names[i] = f.Field
	}
	return &apiError{
		status: http.StatusUnprocessableEntity,
		kind:   "validation",
		detail: "invalid value for " + strings.Join(names, ", "),
		fields: v.fields,
	}
}

// ValidationErrors returns the field errors of err, if it is a validation failure.
func ValidationErrors(err error) []client.FieldError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.fields
	}
	return nil
}

func writeProblem(w http.ResponseWriter, status int, kind, detail string, fields []client.FieldError) {
	p := client.Problem{
		Type:   problemType + kind,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Errors: fields,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
