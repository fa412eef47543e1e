import AsyncHTTPClient
import Logging
import NIOCore
import Synchronization
import VigilAPI
import VigilCore

/// Runs event hooks off the recording path: a bounded queue (a hook that
/// cannot be queued is dropped with a warning, never waited for) and at most
/// `concurrency` hooks at once.
///
/// - A command gets the event JSON on stdin and is killed (its whole process
///   group) at its timeout.
/// - A webhook is a POST of the event JSON; a network error, a timeout, a 5xx,
///   408 or 429 is retried with backoff (1 s, 2 s, 4 s … capped at 30 s) up to
///   `retries` times; other answers are final.
public final class HookRunner: MotionHookRunner {
    struct Job: Sendable {
        var hook: HookConfig
        var name: String
        var payload: String
    }

    public let capacity: Int
    public let concurrency: Int
    private let logger: Logger
    private let queue: BoundedQueue<Job>
    private let worker = Mutex<Task<Void, Never>?>(nil)
    /// Outcomes, for tests and logs: (name, nil when it succeeded or why it failed).
    private let outcomes: @Sendable (String, String?) -> Void

    public init(
        capacity: Int, concurrency: Int = 4, logger: Logger,
        outcomes: @escaping @Sendable (String, String?) -> Void = { _, _ in }
    ) {
        self.capacity = capacity
        self.queue = BoundedQueue(capacity: capacity, overflow: .refuseNew)
        self.concurrency = concurrency
        self.logger = logger
        self.outcomes = outcomes
    }

    public var dropped: Int { queue.dropped }
    /// Hooks waiting to run.
    public var waiting: Int { queue.count }

    public func run(_ hook: HookConfig, name: String, payload: String) {
        if !queue.push(Job(hook: hook, name: name, payload: payload)) {
            logger.warning("hook \(name) dropped: \(capacity) hooks already waiting (events.hook_queue)")
        }
    }

    public func start() {
        worker.withLock { task in
            guard task == nil else { return }
            task = Task { await self.work() }
        }
    }

    /// Stops taking hooks, lets the queued and running ones finish for at
    /// most `grace`, then stops them.
    public func shutdown(grace: Duration = .seconds(5)) async {
        queue.finish()
        guard let task = worker.withLock({ $0 }) else { return }
        if case .timedOut = await withTimeout(grace, { await task.value }) {
            task.cancel()
            await task.value
        }
    }

    private func work() async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            while true {
                // A free slot first: a job stays in the (bounded) queue until it can run.
                if running >= concurrency {
                    await group.next()
                    running -= 1
                }
                guard let job = await queue.next() else { break }
                running += 1
                group.addTask { await self.execute(job) }
            }
            await group.waitForAll()
        }
    }

    private func execute(_ job: Job) async {
        let failure: String?
        switch job.hook {
        case .command(let argv, let timeout):
            failure = await ProcessCommand.run(argv, timeout: timeout, input: job.payload, logger: logger) {
                [logger] line in logger.debug("hook \(job.name): \(line)")
            }
        case .webhook(let url, let timeout, let retries):
            failure = await post(url: url, body: job.payload, timeout: timeout, retries: retries, name: job.name)
        }
        if let failure {
            logger.warning("hook \(job.name) failed: \(failure)")
        } else {
            logger.debug("hook \(job.name) done")
        }
        outcomes(job.name, failure)
    }

    private func post(url: String, body: String, timeout: Duration, retries: Int, name: String) async -> String? {
        var backoff = Backoff(initial: .seconds(1), max: .seconds(30), jitter: false)
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Vigil")
            request.body = .bytes(ByteBuffer(string: body))
            let problem: String
            var retryable = true
            do {
                let response = try await HTTPClient.shared.execute(
                    request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                let code = Int(response.status.code)
                if (200..<300).contains(code) { return nil }
                problem = "HTTP \(code) from \(url)"
                retryable = code >= 500 || code == 408 || code == 429
            } catch {
                if Task.isCancelled { return "stopped: the server is shutting down" }
                problem = "POST \(url): \(error)"
            }
            guard retryable, attempt <= retries else {
                return attempt > 1 ? "\(problem) (after \(attempt) attempts)" : problem
            }
            let delay = backoff.next()
            logger.notice("hook \(name): \(problem); retry \(attempt) of \(retries) in \(delay)")
            do {
                try await Task.sleep(for: delay)
            } catch {
                return "stopped: the server is shutting down"
            }
        }
    }
}
