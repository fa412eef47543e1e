import Prometheus

/// Every series `/metrics` exports: its name (Prometheus conventions: the
/// `vigil_` prefix, base units, `_total` for counters) and its help text.
enum VigilMetric {
    case framesReceived, bytesReceived, framesSent, framesDropped
    case viewers, phase, lastFrameAge, restarts, recovery
    case motionEvents, motionAnalysed, motionSkipped
    case captures, captureDuration
    case ingestSessions, ingestFrames, ingestBytes
    case residentMemory, openDescriptors, children, uptime, startTime

    var descriptor: MetricNameDescriptor {
        let (name, unit, help) = parts
        return MetricNameDescriptor(metricName: name, unitName: unit, helpText: help)
    }

    var name: String { descriptor.name }

    private var parts: (name: String, unit: String, help: String) {
        switch self {
        case .framesReceived: ("vigil_camera_frames_received", "total", "Frames the camera's source delivered.")
        case .bytesReceived: ("vigil_camera_bytes_received", "total", "JPEG bytes the camera's source delivered.")
        case .framesSent: ("vigil_camera_frames_sent", "total", "Frames written to the camera's viewers.")
        case .framesDropped:
            ("vigil_camera_frames_dropped", "total", "Frames a slow viewer never got: a newer one replaced it.")
        case .viewers: ("vigil_camera_viewers", "", "Viewers of the camera now, by kind (mjpeg, websocket).")
        case .phase: ("vigil_camera_phase", "", "1 for the camera's phase now, 0 for the others.")
        case .lastFrameAge:
            ("vigil_camera_last_frame_age", "seconds", "Age of the camera's newest frame (no frame yet: uptime).")
        case .restarts:
            ("vigil_camera_restarts", "total", "Sources replaced, by reason: stale, exited (ended by itself), error.")
        case .recovery:
            ("vigil_camera_recovery", "seconds", "Time from a source's fault to the camera's next live frame.")
        case .motionEvents: ("vigil_motion_events", "total", "Motion events started.")
        case .motionAnalysed: ("vigil_motion_frames_analysed", "total", "Frames the motion detector compared.")
        case .motionSkipped:
            ("vigil_motion_frames_skipped", "total", "Frames the motion detector skipped (analysis_fps, busy).")
        case .captures: ("vigil_captures", "total", "Captures finished, by status (done, failed).")
        case .captureDuration: ("vigil_capture_duration", "seconds", "Time a capture took, from start to file.")
        case .ingestSessions: ("vigil_ingest_sessions", "total", "Upload sessions started.")
        case .ingestFrames: ("vigil_ingest_frames", "total", "Frames received by upload sessions.")
        case .ingestBytes: ("vigil_ingest_bytes", "total", "Frame bytes received by upload sessions.")
        case .residentMemory: ("vigil_process_resident_memory", "bytes", "Resident memory of the server process.")
        case .openDescriptors: ("vigil_process_open_fds", "", "File descriptors the server process holds open.")
        case .children: ("vigil_process_children", "", "Child processes of the server (camera commands, hooks).")
        case .uptime: ("vigil_process_uptime", "seconds", "Seconds since the server started.")
        case .startTime: ("vigil_process_start_time", "seconds", "Start time of the server, Unix seconds.")
        }
    }
}
