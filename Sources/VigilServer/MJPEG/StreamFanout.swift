import NIOCore
import Synchronization
import VigilCore

/// Hands one camera's frames to the MJPEG viewers of one event loop.
///
/// It is the hub's single subscriber for all those viewers: a published frame
/// costs one `execute` per event loop, and on the loop each viewer gets the
/// same shared part buffer. There is no task and no queue per viewer.
/// `viewers` is touched only on `eventLoop`.
final class StreamFanout: FrameSubscriber, @unchecked Sendable {
    let eventLoop: any EventLoop
    let hub: FrameHub
    private var viewers: [ObjectIdentifier: MJPEGStreamHandler] = [:]

    init(eventLoop: any EventLoop, hub: FrameHub) {
        self.eventLoop = eventLoop
        self.hub = hub
    }

    /// Adds a viewer; on `eventLoop`. Returns false when the hub is finished.
    func add(_ viewer: MJPEGStreamHandler) -> Bool {
        eventLoop.preconditionInEventLoop()
        if viewers.isEmpty {
            guard hub.subscribe(self, isViewer: false) else { return false }
        }
        viewers[ObjectIdentifier(viewer)] = viewer
        hub.adjustViewers(by: 1)
        hub.traffic.viewerJoined(.mjpeg)
        return true
    }

    /// Removes a viewer; on `eventLoop`.
    func remove(_ viewer: MJPEGStreamHandler) {
        eventLoop.preconditionInEventLoop()
        guard viewers.removeValue(forKey: ObjectIdentifier(viewer)) != nil else { return }
        hub.adjustViewers(by: -1)
        hub.traffic.viewerLeft(.mjpeg)
        if viewers.isEmpty {
            hub.unsubscribe(self, isViewer: false)
        }
    }

    func offer(_ frame: Frame) {
        eventLoop.execute {
            for viewer in self.viewers.values {
                viewer.offer(frame)
            }
        }
    }

    func finish() {
        eventLoop.execute {
            let all = self.viewers.values
            self.viewers = [:]
            for viewer in all {
                viewer.close()
            }
        }
    }
}

/// The fan-outs of all cameras, one per camera and event loop (a bounded set).
final class StreamFanouts: Sendable {
    private struct Key: Hashable {
        let camera: String
        let loop: ObjectIdentifier
    }

    private let fanouts = Mutex<[Key: StreamFanout]>([:])

    func fanout(for hub: FrameHub, on eventLoop: any EventLoop) -> StreamFanout {
        let key = Key(camera: hub.camera, loop: ObjectIdentifier(eventLoop))
        return fanouts.withLock { fanouts in
            if let existing = fanouts[key] { return existing }
            let fanout = StreamFanout(eventLoop: eventLoop, hub: hub)
            fanouts[key] = fanout
            return fanout
        }
    }
}
