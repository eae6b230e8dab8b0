using System.Globalization;

namespace ApprovalStudio.Workflows;

/// <summary>Sizes in words for error messages: <c>512 bytes</c>, <c>3.5 KB</c>, <c>2.1 MB</c> (binary units, as the limits are set).</summary>
public static class ByteSize
{
    public static string Format(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):0.#} MB"),
    };

    /// <summary>"<paramref name="value"/>; the limit is <paramref name="limit"/>", in bytes when rounding would show the two alike.</summary>
    public static string OverLimit(long value, long limit)
    {
        var (shown, cap) = (Format(value), Format(limit));
        return shown == cap
            ? string.Create(CultureInfo.InvariantCulture, $"{value:N0} bytes; the limit is {limit:N0} bytes")
            : $"{shown}; the limit is {cap}";
    }
}
