package desk

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatehq/estate/desk/deskconfig"
	"github.com/estatehq/estate/desk/sms"
	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/wire"
)

const smsSecret = "desk-sms-secret-never-logged"

// loopbackAliyun is a dysmsapi on loopback: it checks each request's
// HMAC-SHA1 signature (the algorithm is checked against the documentation's
// vector in desk/sms) and answers SendSms and QuerySendDetails.
type loopbackAliyun struct {
	mu    sync.Mutex
	sends []url.Values
	bad   int
}

func (f *loopbackAliyun) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	if sms.AliyunSignature("POST", form, smsSecret) != form["Signature"] {
		f.bad++
		w.WriteHeader(400)
		fmt.Fprint(w, `{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}`)
		return
	}
	switch form["Action"] {
	case "SendSms":
		f.sends = append(f.sends, r.PostForm)
		if form["PhoneNumbers"] == "13900000000" {
			fmt.Fprint(w, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发号码天级流控"}`)
			return
		}
		fmt.Fprintf(w, `{"Code":"OK","Message":"OK","BizId":"biz-%d","RequestId":"r"}`, len(f.sends))
	case "QuerySendDetails":
		fmt.Fprintf(w, `{"Code":"OK","Message":"OK","TotalCount":1,"SmsSendDetailDTOs":{"SmsSendDetailDTO":[{"PhoneNum":"%s","SendStatus":3,"ErrCode":"DELIVERED","ReceiveDate":"2026-11-24 10:00:05"}]}}`, form["PhoneNumber"])
	}
}

func (f *loopbackAliyun) sent() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.sends) }

func TestSMSReminders(t *testing.T) {
	fake := &loopbackAliyun{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	d := newDesk(t, func(c *deskconfig.Config) {
		c.SMS = []sms.Config{{Site: "site-a", Provider: sms.Aliyun, Endpoint: srv.URL + "/", AccessKeyID: "LTAI-desk", AccessKeySecret: smsSecret,
			SignName: "演示物业", TemplateID: "SMS_7001", Params: []sms.Param{{Name: "room", Value: "unit"}, {Name: "amount", Value: "balance"}}}}
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	d.srv.log = slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	for unit, phone := range map[string]string{"1-101": "13800001234", "1-102": "13900000000", "1-103": "010-1234"} {
		body := fmt.Sprintf(`{"building":"1","residents":[{"name":"住户","phone":%q}],"meters":["m-%s"]}`, phone, unit)
		if code, out := d.call(t, "PUT", "/api/v1/units/site-a/"+unit, adminToken, body); code != 200 {
			t.Fatalf("unit: %d %s", code, out)
		}
	}
	open := func(unit string, reading bool) wire.Ticket {
		t.Helper()
		r := ""
		if reading {
			r = `,"reading":{"point":"balance","value":4.5,"unit":"CNY","at":"2026-11-24T01:00:00Z"}`
		}
		code, body := d.call(t, "POST", "/api/v1/tickets", gatewayToken, `{"kind":"top_up","title":"low","site":"site-a","device":"m-`+unit+`"`+r+`}`)
		if code != 201 && code != 200 {
			t.Fatalf("top-up: %d %s", code, body)
		}
		return decodeInto[wire.Ticket](t, body)
	}
	send := func(id int64, token string) (int, string) {
		return d.call(t, "POST", fmt.Sprintf("/api/v1/tickets/%d/sms", id), token, "")
	}
	tk := open("1-101", true)

	// 10:00 in Shanghai: sent, with the template's parameters, and recorded
	// on the ticket as its reminder.
	code, body := send(tk.ID, assistantToken)
	if code != 201 {
		t.Fatalf("send: %d %s", code, body)
	}
	m := decodeInto[store.SMSMessage](t, body)
	got := fake.sends[0]
	if m.Status != "sent" || m.ProviderID != "biz-1" || got.Get("TemplateCode") != "SMS_7001" || got.Get("SignName") != "演示物业" ||
		got.Get("TemplateParam") != `{"amount":"4.50","room":"1-101"}` || got.Get("PhoneNumbers") != "13800001234" || got.Get("OutId") != fmt.Sprint(m.ID) {
		t.Fatalf("message %+v, request %v", m, got)
	}
	rs, _ := d.st.Reminders(ctx, tk.ID)
	if len(rs) != 1 || rs[0].Channel != "sms" || rs[0].By != "front" {
		t.Errorf("reminders %+v", rs)
	}
	full, _ := d.st.GetTicket(ctx, tk.ID)
	if full.AcknowledgedAt == nil {
		t.Error("the message did not count as the reminder")
	}
	// At most one per household per day, whoever asks.
	if code, body := send(tk.ID, adminToken); code != 409 || !strings.Contains(body, "has had its text message today") {
		t.Errorf("second message: %d %s", code, body)
	}
	// The control room and engineers do not send; the control room sees the phone masked.
	if code, _ := send(tk.ID, roleTokens[RoleControlRoom]); code != 403 {
		t.Errorf("control room sends: %d", code)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/sms", tk.ID), roleTokens[RoleControlRoom], "")
	if strings.Contains(body, "13800001234") || !strings.Contains(body, "138****1234") {
		t.Errorf("control room's view of the messages: %s", body)
	}
	// The delivery receipt, fetched from the provider, on the message and the ticket.
	n, err := d.srv.pollReceipts(ctx, "site-a")
	if err != nil || n != 1 {
		t.Fatalf("receipts: %d %v", n, err)
	}
	_, body = d.call(t, "GET", fmt.Sprintf("/api/v1/tickets/%d/sms", tk.ID), assistantToken, "")
	ms := decodeInto[struct{ Messages []store.SMSMessage }](t, body).Messages
	if len(ms) != 1 || ms[0].Status != "delivered" || ms[0].Code != "DELIVERED" || ms[0].ReceiptAt == nil {
		t.Errorf("messages: %s", body)
	}
	if !auditHas(t, d, tk.ID, "sms_delivered", "delivered (aliyun report: DELIVERED") {
		t.Error("no receipt in the audit")
	}
	if n, _ := d.srv.pollReceipts(ctx, "site-a"); n != 0 {
		t.Errorf("a receipt recorded twice: %d", n)
	}

	// Bad input: each a clear error, nothing sent, nothing recorded.
	before := fake.sent()
	noBalance := open("1-103", false)
	if code, body := send(noBalance.ID, assistantToken); code != 422 || !strings.Contains(body, "mobile number") {
		t.Errorf("a landline: %d %s", code, body)
	}
	if code, body := d.call(t, "PUT", "/api/v1/units/site-a/1-103", adminToken, `{"building":"1","residents":[{"name":"住户","phone":"13700001111"}],"meters":["m-1-103"]}`); code != 200 {
		t.Fatal(code, body)
	}
	if code, body := send(noBalance.ID, assistantToken); code != 422 || !strings.Contains(body, "needs balance") {
		t.Errorf("a template parameter the ticket lacks: %d %s", code, body)
	}
	code, body = d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"repair","title":"tap","site":"site-a","unit":"1-101"}`)
	repair := decodeInto[wire.Ticket](t, body)
	if code, body := send(repair.ID, assistantToken); code != 409 || !strings.Contains(body, "repair ticket") {
		t.Errorf("a repair: %d %s", code, body)
	}
	code, body = d.call(t, "POST", "/api/v1/tickets", adminToken, `{"kind":"top_up","title":"low","site":"site-b","unit":"9"}`)
	if code, body := send(decodeInto[wire.Ticket](t, body).ID, assistantToken); code != 409 || !strings.Contains(body, "no SMS channel") {
		t.Errorf("a site without a channel: %d %s", code, body)
	}
	if fake.sent() != before {
		t.Fatalf("bad input reached the provider")
	}
	if ms, _ := d.st.TicketSMS(ctx, noBalance.ID); len(ms) != 0 {
		t.Errorf("bad input recorded messages: %+v", ms)
	}

	// The provider refuses: the refusal is on the ticket, the day stays free.
	refused := open("1-102", true)
	if code, body := send(refused.ID, assistantToken); code != 502 || !strings.Contains(body, "isv.BUSINESS_LIMIT_CONTROL") {
		t.Errorf("refused: %d %s", code, body)
	}
	if ms, _ := d.st.TicketSMS(ctx, refused.ID); len(ms) != 1 || ms[0].Status != "failed" || !auditHas(t, d, refused.ID, "sms_failed", "isv.BUSINESS_LIMIT_CONTROL") {
		t.Errorf("refusal not recorded: %+v", ms)
	}

	// Quiet hours: 22:00 in Shanghai is 14:00 UTC.
	d.clock.Advance(12 * time.Hour)
	if code, body := send(tk.ID, assistantToken); code != 409 || !strings.Contains(body, "quiet hours (21:00-08:00)") || !strings.Contains(body, "2026-11-25 08:00") {
		t.Errorf("quiet hours: %d %s", code, body)
	}
	// The next morning it goes; unless the household opted out.
	d.clock.Advance(11 * time.Hour) // 09:00 on the 25th
	if code, body := d.call(t, "PUT", "/api/v1/units/site-a/1-101/sms", assistantToken, `{"opt_out":true,"note":"业主要求不发短信"}`); code != 200 {
		t.Fatalf("opt out: %d %s", code, body)
	}
	if code, body := send(tk.ID, assistantToken); code != 409 || !strings.Contains(body, "asked for no text messages") {
		t.Errorf("opted out: %d %s", code, body)
	}
	_, body = d.call(t, "GET", "/api/v1/sms/optouts?site=site-a", assistantToken, "")
	if !strings.Contains(body, "业主要求不发短信") {
		t.Errorf("opt-outs: %s", body)
	}
	if code, _ := d.call(t, "PUT", "/api/v1/units/site-a/1-101/sms", assistantToken, `{}`); code != 422 {
		t.Errorf("opt-out without opt_out: %d", code)
	}
	d.call(t, "PUT", "/api/v1/units/site-a/1-101/sms", assistantToken, `{"opt_out":false}`)
	if code, body := send(tk.ID, assistantToken); code != 201 {
		t.Errorf("the next day: %d %s", code, body)
	}
	if fake.bad != 0 {
		t.Errorf("%d requests with a bad signature", fake.bad)
	}
	// The channel's secret is in no log line.
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), smsSecret) || !strings.Contains(logs.String(), "sms sent") {
		t.Errorf("logs: %s", logs.String())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// estate check refuses an SMS template without its parameters, naming the field.
func TestSMSConfigChecked(t *testing.T) {
	text := deskConfig + `  sms:
    - site: centre
      provider: aliyun
      access_key_id: LTAI-x
      access_key_secret: s3cret-s3cret
      sign_name: 演示物业
      template_id: SMS_1
    - site: centre
      provider: tencent
      access_key_id: AKID
      access_key_secret: s
      sign_name: x
      template_id: "1"
      params: [{value: unit}]
      quiet_hours: "22:00"
`
	_, err := parseDesk("desk.yaml", text)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{"desk.sms[0].params", `the template "SMS_1" needs its parameters`, "desk.sms[1].sdk_app_id", "desk.sms[1].site", "desk.sms[1].quiet_hours"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %q in %s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cret-s3cret") {
		t.Errorf("the secret in the problems: %s", msg)
	}
}
