package devices

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/estatehq/estate/internal/config"
)

// ProfileHeader is what every device profile (configs/profiles/*.yaml) says
// of itself, whatever its protocol; each protocol's profile embeds it inline.
type ProfileHeader struct {
	Name         string `yaml:"name"`
	Description  string `yaml:"description"`
	Manufacturer string `yaml:"manufacturer"`
	Model        string `yaml:"model"`
	Family       string `yaml:"family"`
	// Protocol names the protocol of profiles other than Modbus register maps.
	Protocol string `yaml:"protocol"`
	// Source cites the public register map or document the profile comes from.
	Source string `yaml:"source"`
}

// DecodeProfile decodes profile text into p the way every protocol reads its
// profiles: strictly (an unknown key is an error, not a silently ignored typo).
func DecodeProfile(data []byte, p any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(p)
}

// ProfilePath is where a named profile lives: in a profiles folder
// (gateway.profiles_dir, resolved against the configuration's folder) or,
// when it is not there, among the profiles the packages ship
// (config.SharedDir/profiles, /usr/share/estate/profiles), so that a site
// configuration in /etc/estate needs no copy of them. A name that already
// is a path to a .yaml file is that file; when there is none, the shipped
// profile of its file name (the command-line default
// configs/profiles/demo-prepaid-meter.yaml of an installed binary).
func ProfilePath(dir, name string) string {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		if _, err := os.Stat(name); err != nil {
			shared := filepath.Join(SharedProfilesDir(), filepath.Base(name))
			if _, err := os.Stat(shared); err == nil {
				return shared
			}
		}
		return name
	}
	p := filepath.Join(dir, name+".yaml")
	if _, err := os.Stat(p); err != nil {
		shared := filepath.Join(SharedProfilesDir(), name+".yaml")
		if _, err := os.Stat(shared); err == nil {
			return shared
		}
	}
	return p
}

// SharedProfilesDir is the folder of the shipped profiles.
func SharedProfilesDir() string { return filepath.Join(config.SharedDir, "profiles") }

// ProfileNames lists the profiles (file names without .yaml) of the folders.
func ProfileNames(dirs ...string) []string {
	var names []string
	for _, dir := range dirs {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, m := range matches {
			names = append(names, strings.TrimSuffix(filepath.Base(m), ".yaml"))
		}
	}
	return names
}

// NoProfile is the problem of a profile name that is in neither the
// configuration's profiles folder nor the shipped ones, with the name that
// was probably meant.
func NoProfile(cfg *config.Config, what, name string) error {
	dir := cfg.Resolve(cfg.Gateway.ProfilesDir)
	return fmt.Errorf("no %s %q in %s or %s%s", what, name, dir, SharedProfilesDir(),
		config.DidYouMean(name, ProfileNames(dir, SharedProfilesDir())))
}

// ProfileLoader reads the profiles of one protocol, the same way for every
// protocol: the file of a name in the profiles folder, decoded by the
// protocol's Parse (strictly, with DecodeProfile), and parsed once however
// many devices name it (a site has hundreds of meters of one model); a file
// that changed on disk is parsed again. Drivers only read their profile, so
// sharing it is safe. Safe for concurrent use.
type ProfileLoader[P any] struct {
	prefix string
	parse  func(path string, data []byte) (*P, error)

	mu    sync.Mutex
	files map[string]cachedProfile[P]
}

type cachedProfile[P any] struct {
	modTime time.Time
	size    int64
	profile *P
}

// NewProfileLoader returns a loader whose messages start with prefix and the
// file ("profile configs/profiles/x.yaml: …"); parse decodes and checks one
// file's text (its messages carry their own prefix).
func NewProfileLoader[P any](prefix string, parse func(path string, data []byte) (*P, error)) *ProfileLoader[P] {
	return &ProfileLoader[P]{prefix: prefix, parse: parse, files: map[string]cachedProfile[P]{}}
}

// Load returns the profile of that name in dir.
func (l *ProfileLoader[P]) Load(dir, name string) (*P, error) {
	return l.LoadFile(ProfilePath(dir, name))
}

// LoadFile returns the profile in a file.
func (l *ProfileLoader[P]) LoadFile(path string) (*P, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", l.prefix, path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.files[path]; ok && e.modTime.Equal(st.ModTime()) && e.size == st.Size() {
		return e.profile, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", l.prefix, path, err)
	}
	p, err := l.parse(path, data)
	if err != nil {
		return nil, err
	}
	l.files[path] = cachedProfile[P]{modTime: st.ModTime(), size: st.Size(), profile: p}
	return p, nil
}
