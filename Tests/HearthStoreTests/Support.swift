import Foundation
@testable import HearthStore
import HearthStoreS3
import Synchronization
import Testing

/// A scratch directory removed when the test ends.
final class Scratch: Sendable {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hearth-store-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Time that moves only when a test moves it.
final class ManualClock: LeaseClock, Sendable {
    private let current = Mutex(Date())
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local, s3
    var testDescription: String { rawValue }

    func make(_ scratch: Scratch) async throws -> any ObjectStore {
        switch self {
        case .local: return try LocalObjectStore(root: scratch.path("store"))
        case .s3: return try await SeaweedFS.shared.store(prefix: UUID().uuidString)
        }
    }
}

private let seaweedDirectory = Mutex<String?>(nil)

/// One real SeaweedFS (`weed server -s3`) per test process, on free loopback ports.
actor SeaweedFS {
    static let shared = SeaweedFS()
    static let accessKey = "hearth-test", secretKey = "hearth-test-secret"
    private var endpoint: URL?
    private var process: Process?

    func endpointURL() async throws -> URL {
        if let endpoint { return endpoint }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hearth-weed-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let config = #"{"identities":[{"name":"hearth","credentials":[{"accessKey":"\#(Self.accessKey)","secretKey":"\#(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}"#
        try config.write(to: directory.appendingPathComponent("s3.json"), atomically: true, encoding: .utf8)
        // gRPC listens on port + 10000, so choose ports below 55000.
        let base = 21000 + Int(getpid() % 2000) * 10
        let (master, volume, filer, s3) = (base, base + 1, base + 2, base + 3)
        let weed = Process()
        weed.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // setpriv's parent-death signal ends weed with this test process, however it ends.
        weed.arguments = ["setpriv", "--pdeathsig", "KILL", "weed", "server", "-dir=\(directory.path)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                          "-master.port=\(master)", "-volume.port=\(volume)", "-filer.port=\(filer)",
                          "-s3", "-s3.port=\(s3)", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=\(directory.path)/s3.json", "-master.volumeSizeLimitMB=1024", "-volume.max=0"]
        weed.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = directory.appendingPathComponent("weed.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        weed.standardError = try FileHandle(forWritingTo: log)
        try weed.run()
        process = weed
        seaweedDirectory.withLock { $0 = directory.path }
        atexit {
            // A normal exit takes the data directory with it; setpriv ends weed itself.
            if let path = seaweedDirectory.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
        let url = URL(string: "http://127.0.0.1:\(s3)")!
        let probe = S3ObjectStore(.init(endpoint: url, bucket: "hearth-probe", prefix: "", region: "us-east-1", accessKey: Self.accessKey, secretKey: Self.secretKey))
        for _ in 0..<120 {
            if (try? await probe.createBucketIfNeeded()) != nil { endpoint = url; return url }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        throw StoreError(.unavailable, "SeaweedFS did not start; see \(log.path)")
    }

    func store(prefix: String, endpoint override: URL? = nil) async throws -> S3ObjectStore {
        let url = try await endpointURL()
        var configuration = S3ObjectStore.Configuration(endpoint: override ?? url, bucket: "hearth-test", prefix: prefix, region: "us-east-1",
                                                        accessKey: Self.accessKey, secretKey: Self.secretKey)
        configuration.maxAttempts = 6
        let store = S3ObjectStore(configuration)
        try await S3ObjectStore(.init(endpoint: url, bucket: "hearth-test", prefix: prefix, region: "us-east-1",
                                      accessKey: Self.accessKey, secretKey: Self.secretKey)).createBucketIfNeeded()
        return store
    }
}

enum TreeFixture {
    /// A random tree: nested directories, small and large files (some executable), symlinks, empty
    /// directories and names that are not UTF-8.
    static func make(at root: URL, seed: UInt64, files: Int = 40) throws {
        var rng = SplitMix(seed: seed)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var directories = [root.path]
        for i in 0..<files {
            let parent = directories[Int(rng.next() % UInt64(directories.count))]
            switch rng.next() % 10 {
            case 0:
                let dir = parent + "/d\(i)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                directories.append(dir)
            case 1:
                let dir = parent + "/empty\(i)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            case 2:
                symlink("target-\(i)/../x", parent + "/link\(i)")
            case 3:
                var name = Array("raw-".utf8) + [0xff, 0xfe, UInt8(65 + i % 26)]
                name.append(0)
                let full = Array(parent.utf8) + [47] + name
                let fd = full.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
                write(fd, "non-utf8 \(i)", 10)
                close(fd)
            default:
                let size = rng.next() % 4 == 0 ? Int(rng.next() % 3_000_000) : Int(rng.next() % 5000)
                var bytes = [UInt8](repeating: 0, count: size)
                for j in stride(from: 0, to: size, by: 8) {
                    let word = rng.next()
                    for k in 0..<min(8, size - j) { bytes[j + k] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(k))) }
                }
                let file = parent + "/f\(i).bin"
                FileManager.default.createFile(atPath: file, contents: Data(bytes))
                if rng.next() % 3 == 0 { chmod(file, 0o755) }
            }
        }
    }

    /// Everything that must survive a round trip, by relative path (raw bytes, hex).
    static func snapshot(_ root: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        func visit(_ path: [UInt8], _ relative: String) throws {
            guard let dir = (path + [0]).withUnsafeBufferPointer({ $0.withMemoryRebound(to: CChar.self) { opendir($0.baseAddress!) } }) else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name == [46] || name == [46, 46] { continue }
                let child = path + [47] + name
                let key = relative + "/" + name.map { String(format: "%02x", $0) }.joined()
                var info = stat()
                _ = (child + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &info) } }
                let mode = String(info.st_mode, radix: 8)
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    out[key] = "dir \(mode)"
                    try visit(child, key)
                case S_IFLNK:
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let n = (child + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { readlink($0.baseAddress!, &buffer, 4096) } }
                    out[key] = "link " + String(decoding: buffer[0..<max(0, n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                default:
                    let data = FileManager.default.contents(atPath: String(decoding: child, as: UTF8.self)) ?? Data()
                    out[key] = "file \(mode) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(BlobID(hashing: Array(data)).hex)"
                }
            }
        }
        try visit(Array(root.path.utf8), "")
        return out
    }
}

func openVolume(_ store: any ObjectStore, _ name: String = "vol", kek: KeyEncryptionKey) async throws -> Volume {
    try await Volume.openOrCreate(store: store, name: name, kek: kek)
}

/// Commits with a writer that takes and releases the lease, as `hearth volume commit` does.
@discardableResult
func commitOnce(_ volume: Volume, _ directory: URL, cache: URL? = nil, options: CommitOptions? = nil) async throws -> CommitResult {
    let writer = VolumeWriter(volume: volume)
    try await writer.acquire()
    let result = try await writer.commit(directory: directory, options: options ?? CommitOptions(cacheDirectory: cache))
    try await writer.release()
    return result
}
