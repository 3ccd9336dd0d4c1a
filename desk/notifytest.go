package desk

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/estatehq/estate/desk/store"
	"github.com/estatehq/estate/internal/config"
	"github.com/estatehq/estate/internal/wire"
)

// SendTestNotification sends the channel named name a sample message, in
// its language and format, as the desk would send a new ticket's, and
// returns what the channel answered (`estate notify test --channel NAME`).
// Nothing is written to any store: the sample is ticket #0.
func SendTestNotification(ctx context.Context, cfg *config.Config, name string, client *http.Client) (ChannelAnswer, error) {
	d := cfg.Desk
	var found bool
	s := &Server{cfg: d, now: time.Now, client: client,
		siteNames: map[string]string{cfg.Site.ID: cfg.Site.Name}, location: StorePolicy(cfg).Location}
	// The sample mentions the channel's lists only: without the desk's
	// database there is no shift to ask who is on duty.
	s.mentions = rosterMentions{s}
	for _, ch := range d.Channels {
		if ch.Name != name {
			continue
		}
		found = true
		site := cfg.Site.ID
		if len(ch.Sites) > 0 {
			site = ch.Sites[0]
		} else if site == "" && len(d.Sites) > 0 {
			site = d.Sites[0].ID
		}
		lang := channelLang(ch)
		tk := wire.Ticket{Kind: wire.Repair, Priority: "P3", Status: wire.New, Site: site, Building: "1", Floor: "1", Unit: "1-101",
			Title: word(lang, "test", "channel", mdText(ch.Name)), Reporter: "Estate", Phone: "10000", CreatedAt: s.now()}
		n := store.Notification{Channel: ch.Name, Event: "created", Title: tk.Title, Ticket: tk}
		return s.post(ctx, ch, n)
	}
	if !found {
		var names []string
		for _, ch := range d.Channels {
			names = append(names, ch.Name)
		}
		return ChannelAnswer{}, fmt.Errorf("no channel %q in desk.channels (configured: %v)", name, names)
	}
	return ChannelAnswer{}, nil
}
