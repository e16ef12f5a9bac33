package gcsim

import (
	"fmt"
	"strings"
)

// UserID returns the deterministic id of agent i (0-based) of every profile:
// "00000000-0000-4000-8000-" followed by i+1 in 12 hex digits.
func UserID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i+1) }

// QueueID returns the deterministic id of queue i (0-based).
func QueueID(i int) string { return fmt.Sprintf("00000000-0000-4000-9000-%012x", i+1) }

// PresenceID returns the deterministic id of presence definition i (0-based).
func PresenceID(i int) string { return fmt.Sprintf("00000000-0000-4000-a000-%012x", i+1) }

// A User is a simulated agent.
type User struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	QueueID string `json:"-"`
	index   int
}

// A Queue is a simulated routing queue.
type Queue struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	index int
}

// A PresenceDefinition is a system presence (Available, Away, ...).
type PresenceDefinition struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	SystemPresence string `json:"systemPresence"`
}

// CheckAgents returns nil if the directory holds at least n agents, or an
// error naming the profile field to set and the value it needs.
func (d Directory) CheckAgents(n int) error {
	if n <= d.Agents {
		return nil
	}
	return fmt.Errorf("gcsim: profile: directory.agents is %d, fewer than the %d agents the run needs: set \"directory\": {\"agents\": %d} (or more) in the profile, or run fewer agents",
		d.Agents, n, n)
}

// directory is the generated, read-only part of the organization.
type directory struct {
	users     []User
	byID      map[string]*User
	byEmail   map[string]*User
	queues    []Queue
	queueByID map[string]*Queue
	presences []PresenceDefinition
	presByID  map[string]*PresenceDefinition
}

func newDirectory(p *Profile) *directory {
	d := &directory{
		users:     make([]User, p.Directory.Agents),
		byID:      make(map[string]*User, p.Directory.Agents),
		byEmail:   make(map[string]*User, p.Directory.Agents),
		queues:    make([]Queue, p.Directory.Queues),
		queueByID: make(map[string]*Queue, p.Directory.Queues),
		presByID:  map[string]*PresenceDefinition{},
	}
	for i := range d.queues {
		d.queues[i] = Queue{ID: QueueID(i), Name: fmt.Sprintf("Queue %03d", i+1), index: i}
		d.queueByID[d.queues[i].ID] = &d.queues[i]
	}
	for i := range d.users {
		u := &d.users[i]
		*u = User{ID: UserID(i), Name: fmt.Sprintf("Agent %04d", i+1),
			Email: fmt.Sprintf("agent%04d@%s.example", i+1, p.Org.ID), index: i}
		if len(d.queues) > 0 {
			u.QueueID = d.queues[i%len(d.queues)].ID
		}
		d.byID[u.ID] = u
		d.byEmail[u.Email] = u
	}
	for i, name := range p.Directory.PresenceDefinitions {
		sys := strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
		d.presences = append(d.presences, PresenceDefinition{ID: PresenceID(i), Name: name, SystemPresence: sys})
	}
	for i := range d.presences {
		d.presByID[d.presences[i].ID] = &d.presences[i]
	}
	return d
}

// Users returns the simulated agents (a copy).
func (s *Server) Users() []User { return append([]User(nil), s.dir.users...) }

// Queues returns the simulated queues (a copy).
func (s *Server) Queues() []Queue { return append([]Queue(nil), s.dir.queues...) }

// PresenceDefinitions returns the system presences (a copy).
func (s *Server) PresenceDefinitions() []PresenceDefinition {
	return append([]PresenceDefinition(nil), s.dir.presences...)
}
