/// A resolved image: a content address and an unpacked, read-only root filesystem.
public struct ImageRef: Sendable, Codable, Equatable {
    public var id: String
    public var rootfs: String
    public init(id: String, rootfs: String) {
        self.id = id
        self.rootfs = rootfs
    }
}
