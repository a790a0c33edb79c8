// What the browser really buffered and showed, whatever player page includes this script first:
// every SourceBuffer's ranges (one per track, so a late video start is not hidden by the audio),
// the first and last presented frame (requestVideoFrameCallback), decoded and dropped frames, and
// the media files fetched. Tests read these facts to check that playback covers the title from 0 s.
"use strict";
(function () {
  const buffers = [];
  for (const Source of [window.MediaSource, window.ManagedMediaSource]) {
    if (!Source) continue;
    const add = Source.prototype.addSourceBuffer;
    Source.prototype.addSourceBuffer = function (mime) {
      const entry = { mime, buffer: add.call(this, mime), earliest: null, latest: null };
      entry.buffer.addEventListener("updateend", () => remember(entry));
      buffers.push(entry);
      return entry.buffer;
    };
  }
  if (performance.setResourceTimingBufferSize) performance.setResourceTimingBufferSize(5000);

  const frames = { first: null, last: null, presented: 0 };

  function ranges(timeRanges) {
    const out = [];
    for (let i = 0; i < timeRanges.length; i++) out.push([timeRanges.start(i), timeRanges.end(i)]);
    return out;
  }

  function remember(entry) {
    // players evict what lies behind the playhead: keep the earliest start and latest end ever held
    const held = bufferedOf(entry);
    if (!held || !held.length) return;
    const start = held[0][0], end = held[held.length - 1][1];
    entry.earliest = entry.earliest === null ? start : Math.min(entry.earliest, start);
    entry.latest = entry.latest === null ? end : Math.max(entry.latest, end);
  }

  function bufferedOf(entry) {
    try {
      return ranges(entry.buffer.buffered);
    } catch (e) {  // a SourceBuffer removed from its MediaSource can no longer be asked
      return null;
    }
  }

  function bufferRanges(entry) {
    return { mime: entry.mime, ranges: bufferedOf(entry), earliestStart: entry.earliest,
             latestEnd: entry.latest };
  }

  function watch(video) {
    if (!video.requestVideoFrameCallback) return;
    const onFrame = (_now, meta) => {
      if (frames.first === null) frames.first = meta.mediaTime;
      frames.last = meta.mediaTime;
      frames.presented += 1;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  function mediaFiles() {
    return performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
      .filter((path) => /\/cmaf\//.test(path));
  }

  function facts(video) {
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return {
      duration: isFinite(video.duration) ? video.duration : null,
      buffered: ranges(video.buffered),
      played: ranges(video.played),
      sourceBuffers: buffers.map(bufferRanges),
      firstFrameTime: frames.first,
      lastFrameTime: frames.last,
      framesPresented: frames.presented,
      decodedFrames: quality ? quality.totalVideoFrames : null,
      droppedFrames: quality ? quality.droppedVideoFrames : null,
      mediaFiles: mediaFiles(),
    };
  }

  window.MediaReport = { watch, facts };
})();
