package ops

import (
	"context"
	"fmt"
	"io"
	"strings"

	"hotline/internal/codebook"
	"hotline/internal/transcript"
)

// An Op is one operation, defined once: the command line's verb, the
// API's route, what a console operator must be granted, and a line of
// help. The API serves every Op of All from this table and its client
// calls them through it (package api); the command line names the Op
// each verb asks for (cmd/hotline); docs/API.md lists them.
type Op struct {
	// Verb is the command line's verb that does it, e.g. "channel
	// accept"; where several do (incident open, close, …), the first.
	Verb   string
	Method string // the API's method: GET reads, POST acts
	// Path is the API's path. A {name} in it is the request's field of
	// that JSON name; a GET's other fields are its query, a POST's are
	// its JSON body.
	Path string
	// Permission is what a console operator must be granted to do it
	// (operator.Permission). The console's actions that do the operation
	// take it from here.
	Permission string
	Help       string // one line: what it does
	// Name is the operation's name in Ops (and in docs/API.md).
	Name string
	// MaxBody bounds the request body; 0 means the API's default.
	MaxBody int64
	// RawRequest: the request is the body as a stream (RawBody), not
	// JSON.
	// RawResponse: the answer is text, not JSON.
	RawRequest, RawResponse bool

	newRequest  func() any
	newResponse func() any
	invoke      func(context.Context, Ops, any) (any, error)
}

// NewRequest returns a pointer to a new, empty request of op.
func (op *Op) NewRequest() any { return op.newRequest() }

// NewResponse returns a pointer to a new, empty response of op.
func (op *Op) NewResponse() any { return op.newResponse() }

// Invoke does op on o; req is a request value (not a pointer to one).
func (op *Op) Invoke(ctx context.Context, o Ops, req any) (any, error) {
	return op.invoke(ctx, o, req)
}

// Def is an Op with its request and response types.
type Def[Req, Resp any] struct{ *Op }

func def[Req, Resp any](op Op, do func(Ops, context.Context, Req) (Resp, error)) Def[Req, Resp] {
	op.newRequest = func() any { return new(Req) }
	op.newResponse = func() any { return new(Resp) }
	op.invoke = func(ctx context.Context, o Ops, req any) (any, error) { return do(o, ctx, req.(Req)) }
	return Def[Req, Resp]{&op}
}

// Call does the operation through d.
func (d Def[Req, Resp]) Call(ctx context.Context, via Doer, req Req) (Resp, error) {
	v, err := via.Do(ctx, d.Op, req)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return v.(Resp), nil
}

// A Doer does operations: Local, on a station in this process, or the
// API client, on a running station's API.
type Doer interface {
	Do(ctx context.Context, op *Op, req any) (any, error)
}

// Local does operations on a station in this process.
type Local struct{ Ops }

// Do does op on the station.
func (l Local) Do(ctx context.Context, op *Op, req any) (any, error) {
	return op.invoke(ctx, l.Ops, req)
}

// The requests of the operations whose methods take plain arguments.
type (
	// None is the request of an operation that needs nothing.
	None struct{}
	// PeerCard is a peer's card and the fingerprint a person read.
	PeerCard struct {
		Card        string `json:"card"`
		Fingerprint string `json:"fingerprint"`
		By          string `json:"by,omitempty"` // replacing a peer: who decided it
	}
	// ChannelRef names a channel ("" for every channel where that is
	// allowed).
	ChannelRef struct {
		Channel string `json:"channel,omitempty"`
	}
	// ExportRequest names a channel, and the entries of it to disclose:
	// IDs separated by commas.
	ExportRequest struct {
		Channel  string `json:"channel,omitempty"`
		Disclose string `json:"disclose,omitempty"`
	}
	// AckRequest acknowledges a message on behalf of an operator.
	AckRequest struct {
		ID string `json:"id"`
		By string `json:"by"`
	}
	// AlertsRequest lists alerts after an id.
	AlertsRequest struct {
		After int64 `json:"after,omitempty"`
	}
	// PeerRef names a peer.
	PeerRef struct {
		Peer string `json:"peer"`
	}
	// StationRef names a station ("" for this one).
	StationRef struct {
		Station string `json:"station,omitempty"`
	}
	// CodebookRef names a codebook ("" for the embedded one).
	CodebookRef struct {
		Codebook string `json:"codebook,omitempty"`
	}
	// RawBody is the request of an operation whose request is a file
	// (RawRequest): it is read as a stream, never held whole.
	RawBody struct{ io.Reader }
	// CodebookFile is a codebook extension's file.
	CodebookFile struct {
		File []byte `json:"file"`
	}
)

// The operations. Operators of the console itself (hotline operator) and
// the streams (sends in flight on one request, server-sent events) are
// served apart: they are not things a station does.
var (
	Card = def(Op{Name: "Card", Verb: "card", Method: "GET", Path: "/api/v1/card", Permission: "read", RawResponse: true,
		Help: "this station's signed card"},
		func(o Ops, ctx context.Context, _ None) ([]byte, error) { return o.Card(ctx) })
	AddPeer = def(Op{Name: "AddPeer", Verb: "peer add", Method: "POST", Path: "/api/v1/peers", Permission: "peers",
		Help: "pin a peer's card, checked against the fingerprint a person read"},
		func(o Ops, ctx context.Context, r PeerCard) (*PeerView, error) {
			return o.AddPeer(ctx, []byte(r.Card), r.Fingerprint)
		})
	Peers = def(Op{Name: "Peers", Verb: "peer list", Method: "GET", Path: "/api/v1/peers", Permission: "read",
		Help: "the pinned peers and their key history"},
		func(o Ops, ctx context.Context, _ None) ([]PeerView, error) { return o.Peers(ctx) })
	ReplacePeer = def(Op{Name: "ReplacePeer", Verb: "peer replace", Method: "POST", Path: "/api/v1/peers/replace", Permission: "peers",
		Help: "re-pin a peer that lost its key, by the new fingerprint read aloud"},
		func(o Ops, ctx context.Context, r PeerCard) (*PeerView, error) {
			return o.ReplacePeer(ctx, []byte(r.Card), r.Fingerprint, r.By)
		})
	Propose = def(Op{Name: "Propose", Verb: "channel propose", Method: "POST", Path: "/api/v1/channels", Permission: "channels",
		Help: "propose a channel to a peer, signed by this station"},
		func(o Ops, ctx context.Context, r ProposeRequest) (*ChannelView, error) { return o.Propose(ctx, r) })
	Accept = def(Op{Name: "Accept", Verb: "channel accept", Method: "POST", Path: "/api/v1/channels/{channel}/accept", Permission: "channels",
		Help: "accept a channel a peer proposed"},
		func(o Ops, ctx context.Context, r ChannelRef) (*ChannelView, error) { return o.Accept(ctx, r.Channel) })
	Withdraw = def(Op{Name: "Withdraw", Verb: "channel withdraw", Method: "POST", Path: "/api/v1/channels/{channel}/withdraw", Permission: "channels",
		Help: "withdraw a channel this station proposed and the peer has not accepted, a signed act"},
		func(o Ops, ctx context.Context, r WithdrawRequest) (*ChannelView, error) { return o.Withdraw(ctx, r) })
	Channels = def(Op{Name: "Channels", Verb: "channel list", Method: "GET", Path: "/api/v1/channels", Permission: "read",
		Help: "the channels, their state and paths"},
		func(o Ops, ctx context.Context, _ None) ([]ChannelView, error) { return o.Channels(ctx) })
	Suspend = def(Op{Name: "Suspend", Verb: "channel suspend", Method: "POST", Path: "/api/v1/channels/{channel}/suspend", Permission: "suspend",
		Help: "suspend a channel for this party, a signed act"},
		func(o Ops, ctx context.Context, r SuspendRequest) (*ChannelView, error) { return o.Suspend(ctx, r) })
	Resume = def(Op{Name: "Resume", Verb: "channel resume", Method: "POST", Path: "/api/v1/channels/{channel}/resume", Permission: "suspend",
		Help: "lift this party's suspension of a channel"},
		func(o Ops, ctx context.Context, r SuspendRequest) (*ChannelView, error) { return o.Resume(ctx, r) })
	Checks = def(Op{Name: "Checks", Verb: "channel checks", Method: "GET", Path: "/api/v1/channels/{channel}/checks", Permission: "read",
		Help: "a channel's checks over the last day, week and month"},
		func(o Ops, ctx context.Context, r ChannelRef) (*ChecksView, error) { return o.Checks(ctx, r.Channel) })
	Escalations = def(Op{Name: "Escalations", Verb: "escalations", Method: "GET", Path: "/api/v1/escalations", Permission: "read",
		Help: "the deadline ladder steps taken"},
		func(o Ops, ctx context.Context, r ChannelRef) ([]EscalationView, error) {
			return o.Escalations(ctx, r.Channel)
		})
	Send = def(Op{Name: "Send", Verb: "send", Method: "POST", Path: "/api/v1/messages", Permission: "send",
		Help: "send a text message; the answer comes once it is durable"},
		func(o Ops, ctx context.Context, r SendRequest) (*MessageView, error) { return o.Send(ctx, r) })
	Inbox = def(Op{Name: "Inbox", Verb: "inbox", Method: "GET", Path: "/api/v1/inbox", Permission: "read",
		Help: "the messages received"},
		func(o Ops, ctx context.Context, r ChannelRef) ([]MessageView, error) { return o.Inbox(ctx, r.Channel) })
	Outbox = def(Op{Name: "Outbox", Verb: "outbox", Method: "GET", Path: "/api/v1/outbox", Permission: "read",
		Help: "the messages sent and their status"},
		func(o Ops, ctx context.Context, r ChannelRef) ([]MessageView, error) { return o.Outbox(ctx, r.Channel) })
	Ack = def(Op{Name: "Ack", Verb: "ack", Method: "POST", Path: "/api/v1/ack", Permission: "ack",
		Help: "acknowledge a received message, on behalf of a person"},
		func(o Ops, ctx context.Context, r AckRequest) (*MessageView, error) { return o.Ack(ctx, r.ID, r.By) })
	Export = def(Op{Name: "Export", Verb: "export", Method: "GET", Path: "/api/v1/export", Permission: "transcript",
		Help: "a channel's audit bundle, for hotline verify"},
		func(o Ops, ctx context.Context, r ExportRequest) (*transcript.Bundle, error) {
			var ids []string
			if r.Disclose != "" {
				ids = strings.Split(r.Disclose, ",")
			}
			return o.Export(ctx, r.Channel, ids...)
		})
	Status = def(Op{Name: "Status", Verb: "status", Method: "GET", Path: "/api/v1/status", Permission: "read",
		Help: "channels, peers and refusals at a glance"},
		func(o Ops, ctx context.Context, _ None) (*StatusView, error) { return o.Status(ctx) })
	Alerts = def(Op{Name: "Alerts", Verb: "alerts", Method: "GET", Path: "/api/v1/alerts", Permission: "read",
		Help: "the station's alerts, after an id"},
		func(o Ops, ctx context.Context, r AlertsRequest) ([]AlertView, error) {
			return o.Alerts(ctx, r.After)
		})
	BundleExport = def(Op{Name: "BundleExport", Verb: "bundle export", Method: "GET", Path: "/api/v1/bundle", Permission: "transcript",
		Help: "what a peer lacks, as an offline bundle to carry by hand"},
		func(o Ops, ctx context.Context, r PeerRef) (*OfflineBundle, error) {
			return o.BundleExport(ctx, r.Peer)
		})
	BundleImport = def(Op{Name: "BundleImport", Verb: "bundle import", Method: "POST", Path: "/api/v1/bundle", Permission: "channels",
		MaxBody: MaxOffline, RawRequest: true,
		Help: "take a peer's offline bundle; nothing changes unless all of it checks"},
		func(o Ops, ctx context.Context, r RawBody) (*ImportView, error) { return o.BundleImport(ctx, r.Reader) })
	RotateKeys = def(Op{Name: "RotateKeys", Verb: "key rotate", Method: "POST", Path: "/api/v1/key/rotate", Permission: "peers",
		Help: "change this station's keys (rotate, revoke or lost); peers follow"},
		func(o Ops, ctx context.Context, r KeyRequest) (*RotationView, error) { return o.RotateKeys(ctx, r) })
	KeyHistory = def(Op{Name: "KeyHistory", Verb: "key list", Method: "GET", Path: "/api/v1/keys", Permission: "read",
		Help: "a station's key history"},
		func(o Ops, ctx context.Context, r StationRef) ([]KeyView, error) { return o.KeyHistory(ctx, r.Station) })
	SendCoded = def(Op{Name: "SendCoded", Verb: "send", Method: "POST", Path: "/api/v1/coded", Permission: "send",
		Help: "send a coded message of standard phrases, or the one a finding suggests"},
		func(o Ops, ctx context.Context, r CodedRequest) (*MessageView, error) { return o.SendCoded(ctx, r) })
	SendNotice = def(Op{Name: "SendNotice", Verb: "notice send", Method: "POST", Path: "/api/v1/notices", Permission: "send",
		Help: "notify an activity: where, when, which units"},
		func(o Ops, ctx context.Context, r NoticeRequest) (*MessageView, error) { return o.SendNotice(ctx, r) })
	SendReport = def(Op{Name: "SendReport", Verb: "report encounter", Method: "POST", Path: "/api/v1/reports", Permission: "send",
		Help: "report an encounter at sea or in the air"},
		func(o Ops, ctx context.Context, r ReportRequest) (*MessageView, error) { return o.SendReport(ctx, r) })
	Incident = def(Op{Name: "Incident", Verb: "incident open", Method: "POST", Path: "/api/v1/incidents", Permission: "send",
		Help: "open, acknowledge, discuss, link or close an incident"},
		func(o Ops, ctx context.Context, r IncidentRequest) (*IncidentView, error) { return o.Incident(ctx, r) })
	Incidents = def(Op{Name: "Incidents", Verb: "incident list", Method: "GET", Path: "/api/v1/incidents", Permission: "read",
		Help: "the incidents and their state"},
		func(o Ops, ctx context.Context, r ChannelRef) ([]IncidentView, error) {
			return o.Incidents(ctx, r.Channel)
		})
	AddPlan = def(Op{Name: "AddPlan", Verb: "plan add", Method: "POST", Path: "/api/v1/plans", Permission: "send",
		Help: "a planned activity this station keeps to itself, checked against the peers' notices"},
		func(o Ops, ctx context.Context, r PlanRequest) (*PlanView, error) { return o.AddPlan(ctx, r) })
	Plans = def(Op{Name: "Plans", Verb: "plan list", Method: "GET", Path: "/api/v1/plans", Permission: "read",
		Help: "the planned activities"},
		func(o Ops, ctx context.Context, _ None) ([]PlanView, error) { return o.Plans(ctx) })
	Findings = def(Op{Name: "Findings", Verb: "findings", Method: "GET", Path: "/api/v1/findings", Permission: "read",
		Help: "what the deconfliction checks found, each with a suggested message"},
		func(o Ops, ctx context.Context, _ None) ([]FindingView, error) { return o.Findings(ctx) })
	Codebooks = def(Op{Name: "Codebooks", Verb: "codebook books", Method: "GET", Path: "/api/v1/codebooks", Permission: "read",
		Help: "the codebooks this station has"},
		func(o Ops, ctx context.Context, _ None) ([]CodebookView, error) { return o.Codebooks(ctx) })
	Codebook = def(Op{Name: "Codebook", Verb: "codebook list", Method: "GET", Path: "/api/v1/codebooks/phrases", Permission: "read",
		Help: "a codebook's standard phrases"},
		func(o Ops, ctx context.Context, r CodebookRef) (*CodebookPhrases, error) {
			return o.Codebook(ctx, r.Codebook)
		})
	AddCodebook = def(Op{Name: "AddCodebook", Verb: "codebook add", Method: "POST", Path: "/api/v1/codebooks", Permission: "channels",
		MaxBody: MaxCodebookBody,
		Help:    "load a codebook extension both parties agreed"},
		func(o Ops, ctx context.Context, r CodebookFile) (*CodebookView, error) {
			return o.AddCodebook(ctx, r.File)
		})
	StartCall = def(Op{Name: "StartCall", Verb: "call start", Method: "POST", Path: "/api/v1/calls", Permission: "send",
		Help: "place a call on a channel: a signed request, with the station's media offer when it runs, that the peer answers"},
		func(o Ops, ctx context.Context, r StartCallRequest) (*CallView, error) { return o.StartCall(ctx, r) })
	AnswerCall = def(Op{Name: "AnswerCall", Verb: "call answer", Method: "POST", Path: "/api/v1/calls/answer", Permission: "ack",
		Help: "answer the peer's call, on behalf of a person; this stops its ladder"},
		func(o Ops, ctx context.Context, r CallActRequest) (*CallView, error) { return o.AnswerCall(ctx, r) })
	DeclineCall = def(Op{Name: "DeclineCall", Verb: "call decline", Method: "POST", Path: "/api/v1/calls/decline", Permission: "ack",
		Help: "decline the peer's call, with a reason; this stops its ladder"},
		func(o Ops, ctx context.Context, r CallActRequest) (*CallView, error) { return o.DeclineCall(ctx, r) })
	EndCall = def(Op{Name: "EndCall", Verb: "call end", Method: "POST", Path: "/api/v1/calls/end", Permission: "send",
		Help: "end a call, answered or still ringing"},
		func(o Ops, ctx context.Context, r CallActRequest) (*CallView, error) { return o.EndCall(ctx, r) })
	ListCalls = def(Op{Name: "Calls", Verb: "call list", Method: "GET", Path: "/api/v1/calls", Permission: "read",
		Help: "the calls of a channel (or all) and their state"},
		func(o Ops, ctx context.Context, r ChannelRef) ([]CallView, error) { return o.Calls(ctx, r.Channel) })
	CallMedia = def(Op{Name: "CallMedia", Verb: "call media", Method: "POST", Path: "/api/v1/calls/media", Permission: "send",
		MaxBody: 160 << 10, // a browser's offer, up to media.MaxBrowserSDP, in JSON
		Help:    "connect a browser's WebRTC offer to a call's audio at this station; the answer comes back"},
		func(o Ops, ctx context.Context, r CallMediaRequest) (*CallMediaAnswer, error) {
			return o.CallMedia(ctx, r)
		})
	CallRecording = def(Op{Name: "CallRecording", Verb: "call recording", Method: "GET", Path: "/api/v1/calls/recording", Permission: "transcript",
		Help: "this station's recording of its own side of a call (charter call-recording), decrypted and checked against the hash in its signed entry"},
		func(o Ops, ctx context.Context, r CallRecordingRequest) (*CallRecordingFile, error) {
			return o.CallRecording(ctx, r)
		})
	Broadcast = def(Op{Name: "Broadcast", Verb: "send", Method: "POST", Path: "/api/v1/broadcasts", Permission: "send",
		Help: "send one text or notice to several parties (all, groups, names): an entry on each party's channel, linked by one id; the parties refused are named"},
		func(o Ops, ctx context.Context, r BroadcastRequest) (*BroadcastView, error) {
			return o.Broadcast(ctx, r)
		})
	BroadcastShow = def(Op{Name: "BroadcastShow", Verb: "notice show", Method: "GET", Path: "/api/v1/broadcasts/{id}", Permission: "read",
		Help: "a broadcast and, for each party, its delivery, acknowledgement and deadline ladder"},
		func(o Ops, ctx context.Context, r BroadcastRef) (*BroadcastView, error) {
			return o.BroadcastShow(ctx, r.ID)
		})
	Broadcasts = def(Op{Name: "Broadcasts", Verb: "notice list", Method: "GET", Path: "/api/v1/broadcasts", Permission: "read",
		Help: "the 200 newest broadcasts, newest first"},
		func(o Ops, ctx context.Context, _ None) ([]BroadcastView, error) { return o.Broadcasts(ctx) })
	IntroducePeer = def(Op{Name: "IntroducePeer", Verb: "peer introduce", Method: "POST", Path: "/api/v1/peers/introduce", Permission: "peers",
		Help: "sign this station's introduction of a peer it pinned by fingerprint, for a third station that pinned this one"},
		func(o Ops, ctx context.Context, r PeerRef) (*IntroductionFile, error) {
			return o.IntroducePeer(ctx, r.Peer)
		})
	AddIntroduced = def(Op{Name: "AddIntroduced", Verb: "peer add", Method: "POST", Path: "/api/v1/peers/introduced", Permission: "peers",
		MaxBody: MaxIntroductionFile,
		Help:    "pin a peer on the signed introduction of a peer pinned already, confirmed by a person (without one: what it vouches for)"},
		func(o Ops, ctx context.Context, r IntroducedRequest) (*PeerView, error) {
			return o.AddIntroduced(ctx, r)
		})
	Groups = def(Op{Name: "Groups", Verb: "group list", Method: "GET", Path: "/api/v1/groups", Permission: "read",
		Help: "the groups of peers this station names"},
		func(o Ops, ctx context.Context, _ None) ([]GroupView, error) { return o.Groups(ctx) })
	SetGroup = def(Op{Name: "SetGroup", Verb: "group set", Method: "POST", Path: "/api/v1/groups", Permission: "peers",
		Help: "name a group of pinned peers, to address them at once"},
		func(o Ops, ctx context.Context, r GroupRequest) (*GroupView, error) { return o.SetGroup(ctx, r) })
	RemoveGroup = def(Op{Name: "RemoveGroup", Verb: "group remove", Method: "POST", Path: "/api/v1/groups/remove", Permission: "peers",
		Help: "remove a group of peers"},
		func(o Ops, ctx context.Context, r GroupRef) (*GroupView, error) { return o.RemoveGroup(ctx, r.Name) })
)

// All is every operation, in the order docs/API.md lists them.
var All = []*Op{
	Status.Op, Card.Op, AddPeer.Op, Peers.Op, ReplacePeer.Op, RotateKeys.Op, KeyHistory.Op,
	Propose.Op, Accept.Op, Withdraw.Op, Channels.Op, Suspend.Op, Resume.Op, Checks.Op, Escalations.Op,
	Send.Op, Inbox.Op, Outbox.Op, Ack.Op, Alerts.Op, Export.Op, BundleExport.Op, BundleImport.Op,
	SendCoded.Op, SendNotice.Op, SendReport.Op, Incident.Op, Incidents.Op, AddPlan.Op, Plans.Op, Findings.Op,
	Codebooks.Op, Codebook.Op, AddCodebook.Op,
	StartCall.Op, AnswerCall.Op, DeclineCall.Op, EndCall.Op, ListCalls.Op, CallMedia.Op, CallRecording.Op,
	Broadcast.Op, BroadcastShow.Op, Broadcasts.Op, Groups.Op, SetGroup.Op, RemoveGroup.Op, IntroducePeer.Op, AddIntroduced.Op,
}

// MaxCodebookBody bounds the request that carries a codebook file, in
// base64 inside JSON.
const MaxCodebookBody = codebook.MaxFile/3*4 + 1024

// Markdown is the table of operations as docs/API.md lists it.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| operation | `hotline` verb | route | permission | what it does |\n| --- | --- | --- | --- | --- |\n")
	for _, op := range All {
		route := op.Method + " " + op.Path
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", op.Name, op.Verb, route, op.Permission, op.Help)
	}
	return b.String()
}
