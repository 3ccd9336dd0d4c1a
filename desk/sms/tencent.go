package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// tencent is Tencent Cloud SMS, API 3.0 version 2021-01-11: a JSON POST
// signed with TC3-HMAC-SHA256 over the canonical request (method, path,
// query, the content-type and host headers, and the payload's SHA-256).
type tencent struct {
	cfg      Config
	endpoint string
	client   *http.Client
	now      func() time.Time
}

// TencentVersion is the SMS API version whose SendSms and PullSmsSendStatus are spoken.
const TencentVersion = "2021-01-11"

// tencentContentType is the content type signed and sent.
const tencentContentType = "application/json; charset=utf-8"

// TC3Request is what TC3-HMAC-SHA256 signs of a request.
type TC3Request struct {
	Method, Path, Query string
	ContentType, Host   string
	Payload             []byte
	Service             string
	Timestamp           int64
}

// TC3CanonicalRequest is the documented canonical request: method, URI,
// query, the headers content-type and host (lower-case names, each line
// ending in \n), the signed header names, and the hex SHA-256 of the payload.
func TC3CanonicalRequest(r TC3Request) string {
	sum := sha256.Sum256(r.Payload)
	path := r.Path
	if path == "" {
		path = "/"
	}
	return r.Method + "\n" + path + "\n" + r.Query + "\n" +
		"content-type:" + r.ContentType + "\nhost:" + r.Host + "\n\n" +
		"content-type;host\n" + hex.EncodeToString(sum[:])
}

// TC3Date is the UTC date of the timestamp, the credential scope's first part.
func TC3Date(ts int64) string { return time.Unix(ts, 0).UTC().Format("2006-01-02") }

// TC3StringToSign is the algorithm, the timestamp, the credential scope
// (date/service/tc3_request) and the hex SHA-256 of the canonical request.
func TC3StringToSign(r TC3Request) string {
	sum := sha256.Sum256([]byte(TC3CanonicalRequest(r)))
	return "TC3-HMAC-SHA256\n" + strconv.FormatInt(r.Timestamp, 10) + "\n" +
		TC3Date(r.Timestamp) + "/" + r.Service + "/tc3_request\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// TC3Signature derives the signing key from the secret ("TC3"+secret →
// date → service → "tc3_request") and signs the string to sign, in hex.
func TC3Signature(secret string, r TC3Request) string {
	k := hmacSHA256([]byte("TC3"+secret), TC3Date(r.Timestamp))
	k = hmacSHA256(k, r.Service)
	k = hmacSHA256(k, "tc3_request")
	return hex.EncodeToString(hmacSHA256(k, TC3StringToSign(r)))
}

// TC3Authorization is the Authorization header of a signed request.
func TC3Authorization(secretID, secret string, r TC3Request) string {
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + TC3Date(r.Timestamp) + "/" + r.Service + "/tc3_request, " +
		"SignedHeaders=content-type;host, Signature=" + TC3Signature(secret, r)
}

func (t *tencent) region() string {
	if t.cfg.Region != "" {
		return t.cfg.Region
	}
	return "ap-guangzhou"
}

// tencentError is the Error of a refused call's Response.
type tencentError struct {
	Code, Message string
}

// call signs and POSTs one action; the Response object goes into out.
func (t *tencent) call(ctx context.Context, action string, payload any, out any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	u, err := url.Parse(t.endpoint)
	if err != nil {
		return fmt.Errorf("tencent sms: endpoint: %w", err)
	}
	ts := t.now().Unix()
	r := TC3Request{Method: http.MethodPost, Path: u.EscapedPath(), Query: u.RawQuery, ContentType: tencentContentType,
		Host: u.Host, Payload: body, Service: "sms", Timestamp: ts}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("tencent sms %s: %w", action, err)
	}
	h := req.Header
	h.Set("Content-Type", tencentContentType)
	h.Set("X-TC-Action", action)
	h.Set("X-TC-Version", TencentVersion)
	h.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-TC-Region", t.region())
	h.Set("Authorization", TC3Authorization(t.cfg.AccessKeyID, t.cfg.AccessKeySecret, r))
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("tencent sms %s: %w", action, redactURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("tencent sms %s: read the answer: %w", action, err)
	}
	var env struct {
		Response json.RawMessage
	}
	var head struct {
		Error *tencentError
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Response == nil {
		return fmt.Errorf("tencent sms %s: HTTP %d, not an API answer: %.200q", action, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(env.Response, &head); err != nil {
		return fmt.Errorf("tencent sms %s: %w", action, err)
	}
	if head.Error != nil {
		return &ProviderError{Provider: Tencent, Code: head.Error.Code, Message: head.Error.Message, Status: resp.StatusCode}
	}
	return json.Unmarshal(env.Response, out)
}

// Send is SendSms: the parameters are positional (TemplateParamSet), the
// phone in E.164, and SessionContext carries the desk's id of the message.
func (t *tencent) Send(ctx context.Context, m Message) (Sent, error) {
	values := make([]string, len(m.Params))
	for i, p := range m.Params {
		values[i] = p.Value
	}
	req := map[string]any{"PhoneNumberSet": []string{e164(m.Phone)}, "SmsSdkAppId": t.cfg.SDKAppID, "SignName": m.SignName,
		"TemplateId": m.TemplateID, "TemplateParamSet": values, "SessionContext": m.OutID}
	var out struct {
		SendStatusSet []struct {
			SerialNo, PhoneNumber, Code, Message string
		}
	}
	if err := t.call(ctx, "SendSms", req, &out); err != nil {
		return Sent{}, err
	}
	if len(out.SendStatusSet) != 1 {
		return Sent{}, fmt.Errorf("tencent sms SendSms: %d statuses for one phone", len(out.SendStatusSet))
	}
	st := out.SendStatusSet[0]
	if st.Code != "Ok" {
		return Sent{}, &ProviderError{Provider: Tencent, Code: st.Code, Message: st.Message, Status: http.StatusOK}
	}
	return Sent{ProviderID: st.SerialNo, Phone: m.Phone, At: t.now()}, nil
}

// Receipts is PullSmsSendStatus: the reports Tencent has queued since the
// last pull, of any message of the application.
func (t *tencent) Receipts(ctx context.Context, _ []Sent) ([]Receipt, error) {
	var out struct {
		PullSmsSendStatusSet []struct {
			UserReceiveTime, PhoneNumber, SerialNo, ReportStatus, Description string
		}
	}
	if err := t.call(ctx, "PullSmsSendStatus", map[string]any{"Limit": 100, "SmsSdkAppId": t.cfg.SDKAppID}, &out); err != nil {
		return nil, err
	}
	var rs []Receipt
	for _, s := range out.PullSmsSendStatusSet {
		at, _ := time.ParseInLocation("2006-01-02 15:04:05", s.UserReceiveTime, chinaTime)
		rs = append(rs, Receipt{ProviderID: s.SerialNo, Phone: s.PhoneNumber, Delivered: s.ReportStatus == "SUCCESS",
			Code: s.ReportStatus, Description: s.Description, At: at})
	}
	return rs, nil
}
