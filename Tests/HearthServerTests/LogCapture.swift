import Logging
import Synchronization

/// Keeps every log record a logger made, message and metadata rendered as text, so a test can
/// look for a request id or for a secret that must not be there.
final class LogCapture: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
        var text: String { "\(message) \(metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" }
    }

    let records = Mutex<[Record]>([])

    func logger(label: String = "hearth.test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [Record] { records.withLock { $0 } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in metadataProvider?.get() ?? [:] { merged[key] = value }
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            if let error = event.error { merged["log.error"] = "\(error)" }
            let record = Record(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" })
            capture.records.withLock { $0.append(record) }
        }
    }
}
