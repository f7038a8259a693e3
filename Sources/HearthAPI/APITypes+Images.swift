extension API {
    public struct ImageBody: Codable, Sendable, Equatable {
        public var id: String
        public init(id: String) { self.id = id }
    }

    public struct ImageList: Codable, Sendable, Equatable {
        public var images: [ImageBody]
        public init(images: [ImageBody]) { self.images = images }
    }

    /// `source` is `base`, `sha256:<digest>` or `oci:NAME` (a layout in the import directory).
    public struct ImportImageBody: Codable, Sendable, Equatable {
        public var source: String
        /// A tenant to share it with.
        public var tenant: String?
        /// Share it with every tenant.
        public var `public`: Bool?
        public init(source: String, tenant: String? = nil, public: Bool? = nil) {
            self.source = source
            self.tenant = tenant
            self.public = `public`
        }
    }
}
