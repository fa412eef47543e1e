import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// A WebSocket client for tests: queues what the server sends, sends text or
/// binary, and reports how the server closed the socket.
final class WSTestClient: Sendable {
    enum Message: Sendable {
        case text(String)
        case binary(ByteBuffer)
    }

    private let queue = TestQueue<Message>()
    private let writer = Mutex<WebSocketOutboundWriter?>(nil)
    private let connected = TestQueue<Bool>()
    private let closeBox = Mutex<WebSocketCloseFrame??>(nil)
    private let finished = TestQueue<Bool>()
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Connects to `ws://127.0.0.1:PORT/PATH` and waits for the upgrade.
    static func connect(port: Int, path: String, timeout: Duration = .seconds(10)) async throws -> WSTestClient {
        let client = WSTestClient()
        let configuration = {
            var configuration = WebSocketClientConfiguration()
            configuration.maxFrameSize = 8 << 20
            configuration.autoPing = .disabled
            return configuration
        }()
        let logger = {
            var logger = Logger(label: "ws-test-client")
            logger.logLevel = .critical
            return logger
        }()
        let url = "ws://127.0.0.1:\(port)\(path)"
        let task = Task {
            do {
                let close = try await WebSocketClient.connect(
                    url: url, configuration: configuration, logger: logger
                ) { inbound, outbound, _ in
                    client.writer.withLock { $0 = outbound }
                    client.connected.push(true)
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        switch message {
                        case .text(let text): client.queue.push(.text(text))
                        case .binary(let buffer): client.queue.push(.binary(buffer))
                        }
                    }
                }
                client.closeBox.withLock { $0 = .some(close) }
            } catch {
                client.closeBox.withLock { $0 = .some(nil) }
            }
            client.connected.push(false)
            client.finished.push(true)
        }
        client.task.withLock { $0 = task }
        guard try await client.connected.next(timeout: timeout) == true else {
            throw HTTPTestError(description: "WebSocket \(path): no upgrade")
        }
        return client
    }

    /// The next message, whatever its kind.
    func next(timeout: Duration = .seconds(10)) async throws -> Message {
        guard let message = try await queue.next(timeout: timeout) else {
            throw HTTPTestError(description: "socket ended")
        }
        return message
    }

    /// The next text message as a JSON object, skipping binary messages.
    func nextJSON(timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if case .text(let text) = try await next(timeout: deadline - ContinuousClock.now) {
                guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                    throw HTTPTestError(description: "not a JSON object: \(text)")
                }
                return object
            }
        }
    }

    /// The next JSON message of `type`, skipping others.
    func nextJSON(type: String, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let object = try await nextJSON(timeout: deadline - ContinuousClock.now)
            if object["type"] as? String == type { return object }
        }
    }

    /// The next binary message, skipping text.
    func nextBinary(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if case .binary(let buffer) = try await next(timeout: deadline - ContinuousClock.now) {
                return Array(buffer.readableBytesView)
            }
        }
    }

    func send(text: String) async throws {
        guard let writer = writer.withLock({ $0 }) else { throw HTTPTestError(description: "not connected") }
        try await writer.write(.text(text))
    }

    func send(binary: [UInt8]) async throws {
        guard let writer = writer.withLock({ $0 }) else { throw HTTPTestError(description: "not connected") }
        try await writer.write(.binary(ByteBuffer(bytes: binary)))
    }

    /// Waits until the server closed the socket; returns its close frame.
    func closed(timeout: Duration = .seconds(10)) async throws -> WebSocketCloseFrame? {
        _ = try await finished.next(timeout: timeout)
        finished.push(true)
        return closeBox.withLock { $0 ?? nil }
    }

    /// Closes from the client side.
    func close() async {
        if let writer = writer.withLock({ $0 }) {
            try? await writer.close(.normalClosure, reason: nil)
        }
        _ = try? await finished.next(timeout: .seconds(5))
        finished.push(true)
        task.withLock { $0?.cancel() }
    }
}

/// An unbounded FIFO for tests with a waiting `next(timeout:)`.
final class TestQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Element?, Never>)?
        var nextID = 0
        /// Waits whose timer fired before they started waiting.
        var expired: Set<Int> = []
    }

    private let state = Mutex(State())

    func push(_ item: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.items.append(item)
            return nil
        }
        waiter?.resume(returning: item)
    }

    /// The next item; throws `TimeoutError` after `timeout`.
    func next(timeout: Duration) async throws -> Element? {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        let timer = Task {
            try? await Task.sleep(for: max(timeout, .zero))
            let waiter = self.state.withLock { state -> CheckedContinuation<Element?, Never>? in
                guard let waiter = state.waiter, waiter.id == id else {
                    state.expired.insert(id)
                    return nil
                }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume(returning: nil)
        }
        defer {
            timer.cancel()
            _ = state.withLock { $0.expired.remove(id) }
        }
        let item = await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
            let immediate = state.withLock { state -> Element?? in
                if !state.items.isEmpty { return .some(state.items.removeFirst()) }
                if state.expired.contains(id) { return .some(nil) }
                state.waiter = (id, continuation)
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        guard let item else { throw TimeoutError(description: "nothing within \(timeout)") }
        return item
    }
}
