package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// aliyun is Alibaba Cloud SMS (dysmsapi, API version 2017-05-25), called
// RPC-style: the parameters as a form, signed with HMAC-SHA1 (signature
// version 1.0) over the sorted, percent-encoded parameters.
type aliyun struct {
	cfg      Config
	endpoint string
	client   *http.Client
	now      func() time.Time
	nonce    func() string
}

// AliyunVersion is the dysmsapi version whose SendSms and QuerySendDetails are spoken.
const AliyunVersion = "2017-05-25"

// PercentEncode is Alibaba's encoding of a name or a value: UTF-8, every
// byte but A-Z a-z 0-9 - _ . ~ as %XY (upper case), a space as %20.
func PercentEncode(s string) string {
	e := url.QueryEscape(s)
	// QueryEscape writes a space as '+' (a '+' itself is %2B) and leaves
	// '~' alone; it already encodes '*' as %2A.
	return strings.ReplaceAll(e, "+", "%20")
}

// AliyunStringToSign is the string Alibaba signs: the method, the encoded
// "/", and the encoded canonical query (parameters sorted by name, each
// name=value percent-encoded, joined with &). Signature itself is left out.
func AliyunStringToSign(method string, params map[string]string) string {
	return method + "&" + PercentEncode("/") + "&" + PercentEncode(aliyunCanonical(params))
}

func aliyunCanonical(params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names) // byte order of the names, as the documentation says
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		b.WriteString(PercentEncode(params[k]))
	}
	return b.String()
}

// AliyunSignature is Base64(HMAC-SHA1(secret + "&", string to sign)).
func AliyunSignature(method string, params map[string]string, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(AliyunStringToSign(method, params)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// call signs and POSTs one RPC action; the answer's JSON goes into out.
func (a *aliyun) call(ctx context.Context, action string, params map[string]string, out any) error {
	p := map[string]string{
		"AccessKeyId":      a.cfg.AccessKeyID,
		"Action":           action,
		"Format":           "JSON",
		"RegionId":         a.region(),
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   a.nonce(),
		"SignatureVersion": "1.0",
		"Timestamp":        a.now().UTC().Format("2006-01-02T15:04:05Z"),
		"Version":          AliyunVersion,
	}
	for k, v := range params {
		p[k] = v
	}
	body := aliyunCanonical(p) + "&Signature=" + PercentEncode(AliyunSignature(http.MethodPost, p, a.cfg.AccessKeySecret))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("aliyun sms %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("aliyun sms %s: %w", action, redactURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("aliyun sms %s: read the answer: %w", action, err)
	}
	var head struct{ Code, Message string }
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("aliyun sms %s: HTTP %d, not JSON: %.200q", action, resp.StatusCode, raw)
	}
	if head.Code != "OK" {
		return &ProviderError{Provider: Aliyun, Code: head.Code, Message: head.Message, Status: resp.StatusCode}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("aliyun sms %s: %w", action, err)
	}
	return nil
}

func (a *aliyun) region() string {
	if a.cfg.Region != "" {
		return a.cfg.Region
	}
	return "cn-hangzhou"
}

// Send is SendSms: TemplateParam is a JSON object of the parameters by name.
func (a *aliyun) Send(ctx context.Context, m Message) (Sent, error) {
	tp := map[string]string{}
	for _, p := range m.Params {
		tp[p.Name] = p.Value
	}
	params, err := json.Marshal(tp)
	if err != nil {
		return Sent{}, err
	}
	q := map[string]string{"PhoneNumbers": national(m.Phone), "SignName": m.SignName, "TemplateCode": m.TemplateID, "TemplateParam": string(params)}
	if m.OutID != "" {
		q["OutId"] = m.OutID
	}
	var out struct{ BizId string }
	if err := a.call(ctx, "SendSms", q, &out); err != nil {
		return Sent{}, err
	}
	return Sent{ProviderID: out.BizId, Phone: m.Phone, At: a.now()}, nil
}

// chinaTime is the time of Alibaba's SendDate and report times (UTC+8).
var chinaTime = time.FixedZone("CST", 8*3600)

// Receipts asks QuerySendDetails of each pending message (its phone, BizId
// and the day it was sent); SendStatus 3 is delivered, 2 failed, 1 waiting.
func (a *aliyun) Receipts(ctx context.Context, pending []Sent) ([]Receipt, error) {
	var out []Receipt
	for _, s := range pending {
		var ans struct {
			SmsSendDetailDTOs struct {
				SmsSendDetailDTO []struct {
					PhoneNum    string
					SendStatus  int
					ErrCode     string
					ReceiveDate string
				}
			}
		}
		q := map[string]string{"PhoneNumber": national(s.Phone), "BizId": s.ProviderID, "SendDate": s.At.In(chinaTime).Format("20060102"),
			"PageSize": "10", "CurrentPage": "1"}
		if err := a.call(ctx, "QuerySendDetails", q, &ans); err != nil {
			return out, err
		}
		for _, d := range ans.SmsSendDetailDTOs.SmsSendDetailDTO {
			if d.SendStatus != 2 && d.SendStatus != 3 {
				continue // still waiting for the operator's report
			}
			at, _ := time.ParseInLocation("2006-01-02 15:04:05", d.ReceiveDate, chinaTime)
			out = append(out, Receipt{ProviderID: s.ProviderID, Phone: s.Phone, Delivered: d.SendStatus == 3, Code: d.ErrCode, At: at})
		}
	}
	return out, nil
}

// redactURLError keeps a transport error's cause but not the URL's query,
// which for a GET would carry the request (ours are POSTs; kept for safety).
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
