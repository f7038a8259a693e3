import Foundation
import Synchronization

/// Directories that live as long as the test process (a server shared by a suite), removed when
/// it exits, so repeated runs do not fill the temporary directory.
public enum ScratchDirectories {
    private static let paths = Mutex<[String]>([])
    private static let registered: Void = {
        atexit {
            for path in ScratchDirectories.paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
    }()

    public static func removeAtExit(_ path: String) {
        _ = registered
        paths.withLock { $0.append(path) }
    }
}
