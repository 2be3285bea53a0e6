"""The media plane: a presenter's WebRTC stream relayed, unchanged, to every hall and browser.

One broadcast per session (`Channel`): the current source's encoded frames (H.264 or VP8 video, Opus
audio) are tapped from aiortc's receiver before any decoding, put on one continuous programme clock,
cut into RTP payloads once, and sent to every viewer by a lean RTP loop that never encodes.
Each viewer reads through its own bounded queue that drops to the next keyframe when it lags, so a slow
viewer never delays the others; its keyframe requests go upstream, rate-limited. A worker thread
remuxes the programme into HLS segments (MPEG-TS, 1–2 s) and a recording, with PyAV, without
re-encoding the video.

Pure pieces (no aiortc, no event loop): `frames` (keyframes in a bitstream), `fanout` (the per-viewer
queue and the keyframe-request policy), `timeline` (one clock across source switches), `floor` (raised
hands and the floor), `playlist` (HLS playlists and segment cutting), `ice` (ICE server settings).
Stateful pieces: `tap` (the only module that touches aiortc internals), `relay`, `muxer`, `peers`,
`broadcast` (one session's broadcast), `service` (the broadcasts of this process), `signalling` (the hub's
media messages), `api` (what the media API and pages get), `recordings` (the HLS and MP4 files); who may
watch, publish, give the floor and speak for a hall is `access`'s. HTTP and pages in web/routes/media.py.
See docs/MEDIA.md.
"""
