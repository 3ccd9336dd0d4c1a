package desk

// GET /sites: the sites the caller may see, with their display names and
// time zones, for the consoles' site pickers and for showing 演示花园, not
// demo-estate, wherever a site is named.

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

// SiteView is one site as the consoles name it.
type SiteView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
}

func (s *Server) listSites(c echo.Context) error {
	ids := map[string]bool{}
	for _, st := range s.cfg.Sites {
		ids[st.ID] = true
	}
	for id := range s.siteNames {
		ids[id] = true
	}
	// Sites whose gateways report are sites too, named or not.
	if gs, err := s.store.GatewayStatuses(c.Request().Context(), ""); err == nil {
		for _, g := range gs {
			ids[g.Site] = true
		}
	} else {
		return err
	}
	own := principal(c).Site
	out := []SiteView{}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	}) {
		if id == "" || (own != "" && id != own) {
			continue
		}
		out = append(out, SiteView{ID: id, Name: s.siteName(id), Timezone: s.siteLocation(id).String()})
	}
	return c.JSON(http.StatusOK, map[string]any{"sites": out})
}
