import NIOCore
import Synchronization
import VigilCore

/// Hands one camera's frames to the live viewers of one event loop, MJPEG
/// streams and live WebSockets alike.
///
/// It is the hub's single subscriber for all those viewers: a published frame
/// costs one `execute` per event loop, and on the loop each viewer's
/// `FrameDelivery` gets the same shared buffers. There is no task and no
/// queue per viewer. `viewers` is touched only on `eventLoop`.
final class ViewerFanout: FrameSubscriber, @unchecked Sendable {
    let eventLoop: any EventLoop
    let hub: FrameHub
    private var viewers: [ObjectIdentifier: FrameDelivery] = [:]

    init(eventLoop: any EventLoop, hub: FrameHub) {
        self.eventLoop = eventLoop
        self.hub = hub
    }

    /// Adds a viewer; on `eventLoop`. Returns false when the hub is finished.
    func add(_ viewer: FrameDelivery) -> Bool {
        eventLoop.preconditionInEventLoop()
        if viewers.isEmpty {
            guard hub.subscribe(self, isViewer: false) else { return false }
        }
        viewers[ObjectIdentifier(viewer)] = viewer
        hub.adjustViewers(by: 1)
        hub.traffic.viewerJoined(viewer.kind)
        return true
    }

    /// Removes a viewer; on `eventLoop`.
    func remove(_ viewer: FrameDelivery) {
        eventLoop.preconditionInEventLoop()
        guard viewers.removeValue(forKey: ObjectIdentifier(viewer)) != nil else { return }
        hub.adjustViewers(by: -1)
        hub.traffic.viewerLeft(viewer.kind)
        if viewers.isEmpty {
            hub.unsubscribe(self, isViewer: false)
        }
    }

    func offer(_ frame: Frame) {
        eventLoop.execute {
            let outgoing = OutgoingFrame(frame)
            for viewer in self.viewers.values {
                viewer.offer(outgoing)
            }
        }
    }

    func finish() {
        eventLoop.execute {
            let all = self.viewers.values
            self.viewers = [:]
            for viewer in all {
                viewer.hubFinished()
            }
        }
    }
}

/// The fan-outs of all cameras, one per camera and event loop (a bounded set).
final class ViewerFanouts: Sendable {
    private struct Key: Hashable {
        let camera: String
        let loop: ObjectIdentifier
    }

    private let fanouts = Mutex<[Key: ViewerFanout]>([:])

    func fanout(for hub: FrameHub, on eventLoop: any EventLoop) -> ViewerFanout {
        let key = Key(camera: hub.camera, loop: ObjectIdentifier(eventLoop))
        return fanouts.withLock { fanouts in
            if let existing = fanouts[key] { return existing }
            let fanout = ViewerFanout(eventLoop: eventLoop, hub: hub)
            fanouts[key] = fanout
            return fanout
        }
    }
}
