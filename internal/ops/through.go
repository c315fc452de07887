package ops

import (
	"context"
	"io"
	"strings"

	"hotline/internal/transcript"
)

// Through is Ops done by d, each method through its operation in the
// table: the API client is Through(client).
func Through(d Doer) Ops { return through{d} }

type through struct{ d Doer }

func (t through) Card(ctx context.Context) ([]byte, error) { return Card.Call(ctx, t.d, None{}) }
func (t through) AddPeer(ctx context.Context, card []byte, fingerprint string) (*PeerView, error) {
	return AddPeer.Call(ctx, t.d, PeerCard{Card: string(card), Fingerprint: fingerprint})
}
func (t through) Peers(ctx context.Context) ([]PeerView, error) { return Peers.Call(ctx, t.d, None{}) }
func (t through) ReplacePeer(ctx context.Context, card []byte, fingerprint, by string) (*PeerView, error) {
	return ReplacePeer.Call(ctx, t.d, PeerCard{Card: string(card), Fingerprint: fingerprint, By: by})
}
func (t through) Propose(ctx context.Context, r ProposeRequest) (*ChannelView, error) {
	return Propose.Call(ctx, t.d, r)
}
func (t through) Accept(ctx context.Context, channel string) (*ChannelView, error) {
	return Accept.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) Withdraw(ctx context.Context, r WithdrawRequest) (*ChannelView, error) {
	return Withdraw.Call(ctx, t.d, r)
}
func (t through) Channels(ctx context.Context) ([]ChannelView, error) {
	return Channels.Call(ctx, t.d, None{})
}
func (t through) Suspend(ctx context.Context, r SuspendRequest) (*ChannelView, error) {
	return Suspend.Call(ctx, t.d, r)
}
func (t through) Resume(ctx context.Context, r SuspendRequest) (*ChannelView, error) {
	return Resume.Call(ctx, t.d, r)
}
func (t through) Checks(ctx context.Context, channel string) (*ChecksView, error) {
	return Checks.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) Escalations(ctx context.Context, channel string) ([]EscalationView, error) {
	return Escalations.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) Send(ctx context.Context, r SendRequest) (*MessageView, error) {
	return Send.Call(ctx, t.d, r)
}
func (t through) Inbox(ctx context.Context, channel string) ([]MessageView, error) {
	return Inbox.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) Outbox(ctx context.Context, channel string) ([]MessageView, error) {
	return Outbox.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) Ack(ctx context.Context, id, by string) (*MessageView, error) {
	return Ack.Call(ctx, t.d, AckRequest{ID: id, By: by})
}
func (t through) Export(ctx context.Context, channel string, disclose ...string) (*transcript.Bundle, error) {
	return Export.Call(ctx, t.d, ExportRequest{Channel: channel, Disclose: strings.Join(disclose, ",")})
}
func (t through) Status(ctx context.Context) (*StatusView, error) {
	return Status.Call(ctx, t.d, None{})
}
func (t through) Alerts(ctx context.Context, after int64) ([]AlertView, error) {
	return Alerts.Call(ctx, t.d, AlertsRequest{after})
}
func (t through) BundleExport(ctx context.Context, peer string) (*OfflineBundle, error) {
	return BundleExport.Call(ctx, t.d, PeerRef{peer})
}
func (t through) BundleImport(ctx context.Context, r io.Reader) (*ImportView, error) {
	return BundleImport.Call(ctx, t.d, RawBody{r})
}
func (t through) RotateKeys(ctx context.Context, r KeyRequest) (*RotationView, error) {
	return RotateKeys.Call(ctx, t.d, r)
}
func (t through) KeyHistory(ctx context.Context, station string) ([]KeyView, error) {
	return KeyHistory.Call(ctx, t.d, StationRef{station})
}
func (t through) SendCoded(ctx context.Context, r CodedRequest) (*MessageView, error) {
	return SendCoded.Call(ctx, t.d, r)
}
func (t through) SendNotice(ctx context.Context, r NoticeRequest) (*MessageView, error) {
	return SendNotice.Call(ctx, t.d, r)
}
func (t through) SendReport(ctx context.Context, r ReportRequest) (*MessageView, error) {
	return SendReport.Call(ctx, t.d, r)
}
func (t through) Incident(ctx context.Context, r IncidentRequest) (*IncidentView, error) {
	return Incident.Call(ctx, t.d, r)
}
func (t through) Incidents(ctx context.Context, channel string) ([]IncidentView, error) {
	return Incidents.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) AddPlan(ctx context.Context, r PlanRequest) (*PlanView, error) {
	return AddPlan.Call(ctx, t.d, r)
}
func (t through) Plans(ctx context.Context) ([]PlanView, error) { return Plans.Call(ctx, t.d, None{}) }
func (t through) Findings(ctx context.Context) ([]FindingView, error) {
	return Findings.Call(ctx, t.d, None{})
}
func (t through) Codebooks(ctx context.Context) ([]CodebookView, error) {
	return Codebooks.Call(ctx, t.d, None{})
}
func (t through) Codebook(ctx context.Context, name string) (*CodebookPhrases, error) {
	return Codebook.Call(ctx, t.d, CodebookRef{name})
}
func (t through) AddCodebook(ctx context.Context, file []byte) (*CodebookView, error) {
	return AddCodebook.Call(ctx, t.d, CodebookFile{file})
}

func (t through) StartCall(ctx context.Context, r StartCallRequest) (*CallView, error) {
	return StartCall.Call(ctx, t.d, r)
}
func (t through) AnswerCall(ctx context.Context, r CallActRequest) (*CallView, error) {
	return AnswerCall.Call(ctx, t.d, r)
}
func (t through) DeclineCall(ctx context.Context, r CallActRequest) (*CallView, error) {
	return DeclineCall.Call(ctx, t.d, r)
}
func (t through) EndCall(ctx context.Context, r CallActRequest) (*CallView, error) {
	return EndCall.Call(ctx, t.d, r)
}
func (t through) Calls(ctx context.Context, channel string) ([]CallView, error) {
	return ListCalls.Call(ctx, t.d, ChannelRef{channel})
}
func (t through) CallMedia(ctx context.Context, r CallMediaRequest) (*CallMediaAnswer, error) {
	return CallMedia.Call(ctx, t.d, r)
}
func (t through) CallRecording(ctx context.Context, r CallRecordingRequest) (*CallRecordingFile, error) {
	return CallRecording.Call(ctx, t.d, r)
}

func (t through) Broadcast(ctx context.Context, r BroadcastRequest) (*BroadcastView, error) {
	return Broadcast.Call(ctx, t.d, r)
}
func (t through) BroadcastShow(ctx context.Context, id string) (*BroadcastView, error) {
	return BroadcastShow.Call(ctx, t.d, BroadcastRef{id})
}
func (t through) Broadcasts(ctx context.Context) ([]BroadcastView, error) {
	return Broadcasts.Call(ctx, t.d, None{})
}
func (t through) SetGroup(ctx context.Context, r GroupRequest) (*GroupView, error) {
	return SetGroup.Call(ctx, t.d, r)
}
func (t through) RemoveGroup(ctx context.Context, name string) (*GroupView, error) {
	return RemoveGroup.Call(ctx, t.d, GroupRef{name})
}
func (t through) Groups(ctx context.Context) ([]GroupView, error) {
	return Groups.Call(ctx, t.d, None{})
}
func (t through) IntroducePeer(ctx context.Context, peer string) (*IntroductionFile, error) {
	return IntroducePeer.Call(ctx, t.d, PeerRef{peer})
}
func (t through) AddIntroduced(ctx context.Context, r IntroducedRequest) (*PeerView, error) {
	return AddIntroduced.Call(ctx, t.d, r)
}
