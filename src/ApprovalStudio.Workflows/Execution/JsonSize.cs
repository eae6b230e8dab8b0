using System.Text.Json;

namespace ApprovalStudio.Workflows.Execution;

/// <summary>The size of a value as the run stores it (UTF-8 JSON with the run's options), counted without keeping the bytes.</summary>
internal static class JsonSize
{
    public static long Of<T>(T value)
    {
        using var counter = new Counter();
        using (var writer = new Utf8JsonWriter(counter, new JsonWriterOptions { Encoder = Json.Options.Encoder, MaxDepth = Json.Options.MaxDepth }))
        {
            JsonSerializer.Serialize(writer, value, Json.Options);
        }

        return counter.Length;
    }

    private sealed class Counter : Stream
    {
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
