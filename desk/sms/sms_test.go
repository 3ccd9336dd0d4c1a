package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example of Alibaba's SMS documentation ("HTTP 协议及签名"): its
// parameters, string to sign and signature (signed as a GET).
func TestAliyunSignatureKnownAnswer(t *testing.T) {
	params := map[string]string{
		"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
		"RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
		"SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
		"TemplateParam": `{"customer":"test"}`, "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
	}
	wantToSign := "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
	if got := AliyunStringToSign("GET", params); got != wantToSign {
		t.Fatalf("string to sign:\n got %s\nwant %s", got, wantToSign)
	}
	if got := AliyunSignature("GET", params, "testSecret"); got != "zJDF+Lrzhj/ThnlvIToysFRq6t4=" {
		t.Fatalf("signature %s", got)
	}
	// The RPC signature documentation's own example (DescribeRegions).
	rpc := map[string]string{"Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
		"SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0", "Version": "2014-05-26",
		"Timestamp": "2016-02-23T12:46:24Z"}
	if got := AliyunSignature("GET", rpc, "testsecret"); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("DescribeRegions signature %s", got)
	}
	for in, want := range map[string]string{"a b": "a%20b", "*": "%2A", "~-_.": "~-_.", "/=&+": "%2F%3D%26%2B", "派": "%E6%B4%BE"} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// The example of Tencent Cloud's "签名方法 v3" documentation (CVM
// DescribeInstances at 1551113065), with its masked demonstration key.
func TestTC3SignatureKnownAnswer(t *testing.T) {
	r := TC3Request{Method: "POST", Path: "/", ContentType: "application/json; charset=utf-8", Host: "cvm.tencentcloudapi.com",
		Payload: []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`),
		Service: "cvm", Timestamp: 1551113065}
	wantCanonical := "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
	if got := TC3CanonicalRequest(r); got != wantCanonical {
		t.Fatalf("canonical request:\n got %q\nwant %q", got, wantCanonical)
	}
	wantToSign := "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
	if got := TC3StringToSign(r); got != wantToSign {
		t.Fatalf("string to sign:\n got %q\nwant %q", got, wantToSign)
	}
	want := "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
	if got := TC3Authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", r); got != want {
		t.Fatalf("authorization:\n got %s\nwant %s", got, want)
	}
}

// --- The providers' side, written again from their documentation (not
// from the code under test), to check what the client sends.

// aliyunVerify recomputes Alibaba's signature of a received form: RFC 3986
// encoding of each name and value, sorted by name, the method and "/".
func aliyunVerify(method string, form url.Values, secret string) error {
	enc := func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	}
	var names []string
	for k := range form {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var pairs []string
	for _, k := range names {
		pairs = append(pairs, enc(k)+"="+enc(form.Get(k)))
	}
	toSign := method + "&" + enc("/") + "&" + enc(strings.Join(pairs, "&"))
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(toSign))
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(want), []byte(form.Get("Signature"))) {
		return errors.New("signature does not match")
	}
	return nil
}

// tc3Verify recomputes Tencent's TC3-HMAC-SHA256 of a received request.
func tc3Verify(r *http.Request, body []byte, secretID, secret string) error {
	auth := r.Header.Get("Authorization")
	ts := r.Header.Get("X-TC-Timestamp")
	var sec int64
	if _, err := fmt.Sscan(ts, &sec); err != nil {
		return errors.New("no X-TC-Timestamp")
	}
	date := time.Unix(sec, 0).UTC().Format("2006-01-02")
	ph := sha256.Sum256(body)
	canonical := strings.Join([]string{r.Method, r.URL.Path, r.URL.RawQuery,
		"content-type:" + strings.ToLower(r.Header.Get("Content-Type")) + "\nhost:" + r.Host + "\n",
		"content-type;host", hex.EncodeToString(ph[:])}, "\n")
	ch := sha256.Sum256([]byte(canonical))
	scope := date + "/sms/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	key := mac(mac(mac([]byte("TC3"+secret), date), "sms"), "tc3_request")
	want := "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(mac(key, toSign))
	if !hmac.Equal([]byte(want), []byte(auth)) {
		return errors.New("signature does not match")
	}
	return nil
}

// fakeAliyun is a loopback dysmsapi: it verifies each request's signature
// and answers SendSms and QuerySendDetails as the documentation shows.
type fakeAliyun struct {
	secret string
	mu     sync.Mutex
	got    []url.Values
}

func (f *fakeAliyun) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.got = append(f.got, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"Code":"InvalidRequest","Message":"POST a form"}`)
		return
	}
	if err := aliyunVerify(r.Method, r.PostForm, f.secret); err != nil {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}`)
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", r.PostForm.Get("Timestamp"))
	if err != nil || r.PostForm.Get("SignatureNonce") == "" || r.PostForm.Get("Version") != "2017-05-25" || r.PostForm.Get("Format") != "JSON" {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"Code":"MissingParameter","Message":"%v"}`, err)
		return
	}
	_ = ts
	switch r.PostForm.Get("Action") {
	case "SendSms":
		var tp map[string]string
		if json.Unmarshal([]byte(r.PostForm.Get("TemplateParam")), &tp) != nil || r.PostForm.Get("TemplateCode") == "" {
			fmt.Fprint(w, `{"Code":"isv.INVALID_JSON_PARAM","Message":"JSON参数不合法"}`)
			return
		}
		if r.PostForm.Get("PhoneNumbers") == "13900000000" {
			fmt.Fprint(w, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发号码天级流控"}`)
			return
		}
		fmt.Fprint(w, `{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990"}`)
	case "QuerySendDetails":
		fmt.Fprintf(w, `{"Code":"OK","Message":"OK","TotalCount":1,"SmsSendDetailDTOs":{"SmsSendDetailDTO":[{"PhoneNum":"%s","SendStatus":3,"ErrCode":"DELIVERED","ReceiveDate":"2026-12-03 10:00:05","SendDate":"2026-12-03 10:00:01","OutId":"7"}]}}`,
			r.PostForm.Get("PhoneNumber"))
	default:
		fmt.Fprint(w, `{"Code":"InvalidAction.NotFound","Message":"no such action"}`)
	}
}

func fixedClock() func() time.Time {
	at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
	return func() time.Time { return at }
}

func aliyunConfig(endpoint string) Config {
	return Config{Site: "s1", Provider: Aliyun, Endpoint: endpoint, AccessKeyID: "LTAI-test-id", AccessKeySecret: "aliyun-secret-do-not-log",
		SignName: "演示物业", TemplateID: "SMS_123456", Params: []Param{{"room", "unit"}, {"amount", "balance"}}}
}

func TestAliyunSendAndReceipts(t *testing.T) {
	f := &fakeAliyun{secret: "aliyun-secret-do-not-log"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(aliyunConfig(srv.URL+"/"), srv.Client(), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := Message{Phone: "13800001234", SignName: "演示物业", TemplateID: "SMS_123456",
		Params: []Param{{"room", "3-1-101"}, {"amount", "4.50"}}, OutID: "7"}
	sent, err := s.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if sent.ProviderID != "900619746936498440^0" {
		t.Fatalf("sent %+v", sent)
	}
	got := f.got[0]
	if got.Get("PhoneNumbers") != "13800001234" || got.Get("SignName") != "演示物业" || got.Get("OutId") != "7" ||
		got.Get("TemplateParam") != `{"amount":"4.50","room":"3-1-101"}` || got.Get("Timestamp") != "2026-12-03T02:00:00Z" {
		t.Fatalf("request %v", got)
	}
	rs, err := s.Receipts(ctx, []Sent{sent})
	if err != nil || len(rs) != 1 || !rs[0].Delivered || rs[0].Code != "DELIVERED" || rs[0].ProviderID != sent.ProviderID {
		t.Fatalf("receipts %+v %v", rs, err)
	}
	if f.got[1].Get("SendDate") != "20261203" || f.got[1].Get("BizId") != sent.ProviderID {
		t.Fatalf("query %v", f.got[1])
	}
	// The provider refuses: its code comes back.
	m.Phone = "13900000000"
	_, err = s.Send(ctx, m)
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "isv.BUSINESS_LIMIT_CONTROL" {
		t.Fatalf("refusal %v", err)
	}
	// A wrong secret fails the server's check.
	bad := aliyunConfig(srv.URL + "/")
	bad.AccessKeySecret = "not-the-secret"
	bs, _ := New(bad, srv.Client(), fixedClock())
	if _, err := bs.Send(ctx, m); !errors.As(err, &pe) || pe.Code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
}

// fakeTencent is a loopback sms.tencentcloudapi.com.
type fakeTencent struct {
	id, secret string
	mu         sync.Mutex
	bodies     []map[string]any
}

func (f *fakeTencent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if err := tc3Verify(r, body, f.id, f.secret); err != nil {
		fmt.Fprint(w, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"r1"}}`)
		return
	}
	if r.Header.Get("X-TC-Version") != "2021-01-11" || r.Header.Get("X-TC-Region") == "" {
		fmt.Fprint(w, `{"Response":{"Error":{"Code":"MissingParameter","Message":"version or region"},"RequestId":"r2"}}`)
		return
	}
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	f.bodies = append(f.bodies, req)
	f.mu.Unlock()
	switch r.Header.Get("X-TC-Action") {
	case "SendSms":
		phones, _ := req["PhoneNumberSet"].([]any)
		if len(phones) != 1 {
			fmt.Fprint(w, `{"Response":{"Error":{"Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"phones"},"RequestId":"r3"}}`)
			return
		}
		code := "Ok"
		if phones[0] == "+8613900000000" {
			code = "LimitExceeded.PhoneNumberDailyLimit"
		}
		fmt.Fprintf(w, `{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"%s","Fee":1,"SessionContext":"%v","Code":"%s","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}`,
			phones[0], req["SessionContext"], code)
	case "PullSmsSendStatus":
		fmt.Fprint(w, `{"Response":{"PullSmsSendStatusSet":[{"UserReceiveTime":"2026-12-03 10:00:05","CountryCode":"86","SubscriberNumber":"13800001234","PhoneNumber":"+8613800001234","SerialNo":"5000:1045710669157053657849499619","ReportStatus":"SUCCESS","Description":"用户短信送达成功","SessionContext":"7"}],"RequestId":"b1"}}`)
	default:
		fmt.Fprint(w, `{"Response":{"Error":{"Code":"InvalidAction","Message":"no such action"},"RequestId":"r4"}}`)
	}
}

func tencentConfig(endpoint string) Config {
	return Config{Site: "s1", Provider: Tencent, Endpoint: endpoint, AccessKeyID: "AKID-test", AccessKeySecret: "tencent-secret-do-not-log",
		SDKAppID: "1400006666", SignName: "演示物业", TemplateID: "449739", Params: []Param{{"", "unit"}, {"", "balance"}}}
}

func TestTencentSendAndReceipts(t *testing.T) {
	f := &fakeTencent{id: "AKID-test", secret: "tencent-secret-do-not-log"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(tencentConfig(srv.URL+"/"), srv.Client(), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := Message{Phone: "13800001234", SignName: "演示物业", TemplateID: "449739", Params: []Param{{"", "3-1-101"}, {"", "4.50"}}, OutID: "7"}
	sent, err := s.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if sent.ProviderID != "5000:1045710669157053657849499619" {
		t.Fatalf("sent %+v", sent)
	}
	b := f.bodies[0]
	if b["SmsSdkAppId"] != "1400006666" || b["TemplateId"] != "449739" || fmt.Sprint(b["TemplateParamSet"]) != "[3-1-101 4.50]" ||
		fmt.Sprint(b["PhoneNumberSet"]) != "[+8613800001234]" || b["SignName"] != "演示物业" {
		t.Fatalf("request %v", b)
	}
	rs, err := s.Receipts(ctx, nil)
	if err != nil || len(rs) != 1 || !rs[0].Delivered || rs[0].ProviderID != sent.ProviderID {
		t.Fatalf("receipts %+v %v", rs, err)
	}
	m.Phone = "13900000000"
	var pe *ProviderError
	if _, err := s.Send(ctx, m); !errors.As(err, &pe) || pe.Code != "LimitExceeded.PhoneNumberDailyLimit" {
		t.Fatalf("refusal %v", err)
	}
	bad := tencentConfig(srv.URL + "/")
	bad.AccessKeySecret = "wrong"
	bs, _ := New(bad, srv.Client(), fixedClock())
	if _, err := bs.Send(ctx, m); !errors.As(err, &pe) || pe.Code != "AuthFailure.SignatureFailure" {
		t.Fatalf("wrong secret: %v", err)
	}
}

// The secrets appear in no printout of the configuration, no log record and
// no error, whether the provider refuses or cannot be reached.
func TestSecretsNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fa := &fakeAliyun{secret: "other"}
	ft := &fakeTencent{id: "AKID-test", secret: "other"}
	sa, st := httptest.NewServer(fa), httptest.NewServer(ft)
	defer sa.Close()
	defer st.Close()
	// A port that refuses connections.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	var seen []string
	for _, c := range []Config{aliyunConfig(sa.URL + "/"), tencentConfig(st.URL + "/"), aliyunConfig(closed), tencentConfig(closed)} {
		seen = append(seen, fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c))
		log.Info("sms channel", "channel", c)
		s, err := New(c, &http.Client{Timeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), Message{Phone: "13800001234", SignName: "x", TemplateID: "1", Params: []Param{{"a", "b"}}})
		if err == nil {
			t.Fatal("a refused send gave no error")
		}
		log.Error("sms send failed", "err", err)
		seen = append(seen, err.Error())
		_, err = s.Receipts(context.Background(), []Sent{{ProviderID: "1", Phone: "13800001234", At: time.Now()}})
		log.Error("sms receipts failed", "err", err)
	}
	seen = append(seen, logs.String())
	for _, s := range seen {
		for _, secret := range []string{"aliyun-secret-do-not-log", "tencent-secret-do-not-log"} {
			if strings.Contains(s, secret) {
				t.Fatalf("secret written: %s", s)
			}
		}
	}
	if !strings.Contains(logs.String(), redacted) || !strings.Contains(logs.String(), "SignatureDoesNotMatch") {
		t.Fatalf("logs do not show the redacted channel and the refusal: %s", logs.String())
	}
}

func TestCheck(t *testing.T) {
	c := aliyunConfig("")
	if ps := c.Check(); len(ps) != 0 {
		t.Fatalf("a good channel: %v", ps)
	}
	c.Params = nil
	ps := c.Check()
	if len(ps) != 1 || ps[0].Field != "params" || !strings.Contains(ps[0].Message, "SMS_123456") {
		t.Fatalf("a template without its parameters: %v", ps)
	}
	if _, err := New(c, nil, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("New with a bad channel: %v", err)
	}
	c = tencentConfig("ftp://x")
	c.SDKAppID, c.QuietHours = "", "22:00"
	c.Params = []Param{{"", "phone"}}
	var fields []string
	for _, p := range c.Check() {
		fields = append(fields, p.Field)
	}
	if !slices.Equal(fields, []string{"endpoint", "sdk_app_id", "params[0].value", "quiet_hours"}) {
		t.Fatalf("problems %v", fields)
	}
}

func TestQuietHours(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	c := Config{}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 3, h, m, 0, 0, loc) }
	for _, tc := range []struct {
		t     time.Time
		quiet bool
		until time.Time
	}{
		{at(20, 59), false, time.Time{}},
		{at(21, 0), true, time.Date(2026, 12, 4, 8, 0, 0, 0, loc)},
		{at(3, 0), true, at(8, 0)},
		{at(8, 0), false, time.Time{}},
	} {
		q, until := c.Quiet(tc.t)
		if q != tc.quiet || !until.Equal(tc.until) {
			t.Errorf("%s: quiet %v until %s", tc.t, q, until)
		}
	}
	c.QuietHours = "12:00-14:00"
	if q, until := c.Quiet(at(13, 0)); !q || !until.Equal(at(14, 0)) {
		t.Errorf("lunch: %v %s", q, until)
	}
	c.QuietHours = "none"
	if q, _ := c.Quiet(at(3, 0)); q {
		t.Error("none is quiet")
	}
}

func FuzzParseQuietHours(f *testing.F) {
	for _, s := range []string{"", "none", "21:00-08:00", "12:00-14:00", "25:00-01:00", "21:00", "-", "08:00-08:00", "9:5-7:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := ParseQuietHours(s)
		if err != nil {
			return
		}
		if from < 0 || from >= 24*60 || to < 0 || to >= 24*60 || (from == to && s != "none") {
			t.Fatalf("%q: %d-%d", s, from, to)
		}
		c := Config{QuietHours: s}
		q, until := c.Quiet(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
		if q && !until.After(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("%q: quiet until %s", s, until)
		}
	})
}

func TestValidPhone(t *testing.T) {
	for p, ok := range map[string]bool{"13800001234": true, "+8613800001234": true, "23800001234": false, "1380000123": false, "138-0000-1234": false, "": false} {
		if ValidPhone(p) != ok {
			t.Errorf("%q: %v", p, !ok)
		}
	}
}

// Signing costs per message (a site sends at most one per household a day:
// these show it is not where time goes).
func BenchmarkAliyunSignature(b *testing.B) {
	p := map[string]string{"AccessKeyId": "id", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": "13800001234", "RegionId": "cn-hangzhou",
		"SignName": "演示物业", "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "n", "SignatureVersion": "1.0", "TemplateCode": "SMS_1",
		"TemplateParam": `{"room":"1-101","amount":"4.50"}`, "Timestamp": "2026-12-03T02:00:00Z", "Version": "2017-05-25"}
	b.ReportAllocs()
	for b.Loop() {
		_ = AliyunSignature("POST", p, "secret")
	}
}

func BenchmarkTC3Signature(b *testing.B) {
	r := TC3Request{Method: "POST", Path: "/", ContentType: tencentContentType, Host: "127.0.0.1:1", Service: "sms", Timestamp: 1764727200,
		Payload: []byte(`{"PhoneNumberSet":["+8613800001234"],"SmsSdkAppId":"1400006666","SignName":"演示物业","TemplateId":"449739","TemplateParamSet":["1-101","4.50"]}`)}
	b.ReportAllocs()
	for b.Loop() {
		_ = TC3Authorization("id", "secret", r)
	}
}
