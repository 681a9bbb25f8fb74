"""The importer: queues imports, downloads them with yt-dlp and stores them in S3."""
