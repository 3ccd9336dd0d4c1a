package desk

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// Whatever a caller sends as a ticket, the desk answers with a 2xx or a 4xx
// in the one error shape, never a 5xx.
func FuzzCreateTicketBody(f *testing.F) {
	for _, s := range []string{alarmTicket, `{"kind":`, `{"kind":"repair","title":5,"site":"s"}`, `{}`, `[]`, `null`,
		`{"kind":"repair","title":"x","site":"s","appointment_at":"tomorrow"}`, `{"kind":"top_up","title":"x","reading":{"value":"1"}}`,
		`{"kind":"repair","title":"x","site":"s"}{"x":1}`, "\x00", `{"kind":"repair","title":"` + strings.Repeat("长", 100) + `","site":"s"}`} {
		f.Add(s)
	}
	d := newDesk(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/tickets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+gatewayToken)
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		if rec.Code >= 500 || (rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error"`)) {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body.String())
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{encodeCursor(true, 5), encodeCursor(false, 1<<40), "", "bjA", "zzz", "b-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		oldest, id, err := decodeCursor(s)
		if err != nil {
			return
		}
		if id < 1 {
			t.Fatalf("%q decoded to id %d", s, id)
		}
		if o2, id2, err := decodeCursor(encodeCursor(oldest, id)); err != nil || o2 != oldest || id2 != id {
			t.Fatalf("%q does not round-trip", s)
		}
	})
}
