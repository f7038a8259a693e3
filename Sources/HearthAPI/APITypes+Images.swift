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

extension API {
    /// `GET /v1/images/base`: whether the base image is built, being built (and at which step, for
    /// how long), or failed. A first create waits for it; clients show this meanwhile.
    public struct BaseImageStatus: Codable, Sendable, Equatable {
        /// `idle` (not built, no build running), `building`, `ready` or `failed`.
        public var state: String
        public var step: String?
        public var elapsed_seconds: Double?
        public var image: String?
        public var message: String?
        public init(state: String, step: String? = nil, elapsed_seconds: Double? = nil, image: String? = nil, message: String? = nil) {
            self.state = state
            self.step = step
            self.elapsed_seconds = elapsed_seconds
            self.image = image
            self.message = message
        }
    }
}
