namespace Kettle;

/// <summary>
/// The stream ended before a read was satisfied. asyncio counterpart: <c>asyncio.IncompleteReadError</c>
/// (an <c>EOFError</c>; here an <see cref="EndOfStreamException"/>).
/// </summary>
/// <remarks>Threading: an exception object; no thread affinity.</remarks>
public sealed class IncompleteReadException : EndOfStreamException
{
    /// <summary>Creates the exception with the bytes read before the end and the count that was expected.</summary>
    public IncompleteReadException(byte[] partial, int? expected)
        : base($"{partial.Length} bytes read on a total of {(expected is int e ? e.ToString(System.Globalization.CultureInfo.InvariantCulture) : "undefined")} expected bytes: the stream ended first.")
    {
        Partial = partial;
        Expected = expected;
    }

    /// <summary>The bytes read before the end of the stream (removed from the reader's buffer).</summary>
    public byte[] Partial { get; }

    /// <summary>The number of bytes expected, or null when reading up to a separator.</summary>
    public int? Expected { get; }
}

/// <summary>
/// A separator was not found within the reader's limit. asyncio counterpart: <c>asyncio.LimitOverrunError</c>.
/// The data stays in the reader's buffer: nothing is lost, and it can be read with <c>Read</c>/<c>ReadExactly</c>.
/// </summary>
/// <remarks>Threading: an exception object; no thread affinity.</remarks>
public sealed class LimitOverrunException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LimitOverrunException(string message, int consumed)
        : base(message) => Consumed = consumed;

    /// <summary>How many buffered bytes may be consumed without having found the separator (asyncio's <c>consumed</c>).</summary>
    public int Consumed { get; }
}
