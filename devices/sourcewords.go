package devices

import "strings"

// SourceWords are a family's words for the places on its devices that
// events come from, in Chinese: an event's Source ("door 3", "loop 1
// address 23", "car") is an identity (part of the alarm key) written in
// English, and a Chinese message shows its SourceZH instead. Each entry
// maps an English word or phrase to its Chinese, where "{n}" stands for the
// number (or id) that follows the word in the source: "door" → "{n}号门",
// "loop" → "{n}回路", "car" → "轿厢". The family owns its words; a source
// that uses a word the family does not know keeps its own words (ZH says "").
type SourceWords map[string]string

// maxPhrase is the longest phrase of SourceWords, in words ("transmission device").
const maxPhrase = 3

// ZH says source in Chinese, or "" when a part of it is not in the words
// (the caller then shows the source as it is: a zone's name as the panel
// printed it, a room's name as configured).
func (w SourceWords) ZH(source string) string {
	toks := strings.Fields(source)
	if len(toks) == 0 {
		return ""
	}
	var parts []string
	for i := 0; i < len(toks); {
		matched := false
		for n := min(maxPhrase, len(toks)-i); n > 0; n-- {
			zh, ok := w[strings.ToLower(strings.Join(toks[i:i+n], " "))]
			if !ok {
				continue
			}
			i += n
			if strings.Contains(zh, "{n}") {
				if i >= len(toks) {
					return "" // the word wants its number and the source has none
				}
				zh = strings.ReplaceAll(zh, "{n}", toks[i])
				i++
			}
			parts, matched = append(parts, zh), true
			break
		}
		if !matched {
			return ""
		}
	}
	return strings.Join(parts, " ")
}

// Name sets each event's SourceZH from the words, where the event has none
// and the words know its source: what a family calls on the events it emits.
func (w SourceWords) Name(evs []Event) []Event {
	for i := range evs {
		if evs[i].SourceZH == "" {
			evs[i].SourceZH = w.ZH(evs[i].Source)
		}
	}
	return evs
}
