using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Kettle;

/// <summary>
/// The messages between a <see cref="ProcessPoolExecutor"/> and its workers, over the worker's stdin (requests)
/// and stdout (replies): an 8-byte header (magic "KTL1", little-endian length) then UTF-8 JSON. The message
/// shapes are fixed types: nothing on the wire names a type to instantiate.
/// </summary>
/// <remarks>Threading: the functions are stateless; each stream has one reader and one writer.</remarks>
internal static class ProcessProtocol
{
    public const int MaxMessageBytes = 1 << 30;
    private const uint Magic = 0x314C544B; // "KTL1"

    /// <summary>Reflection-based on purpose: apps built with PublishAot (file-based apps) turn the default resolver off.</summary>
    public static readonly JsonSerializerOptions MessageOptions = new(JsonSerializerDefaults.General) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    public static void Write<T>(Stream stream, T message)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, MessageOptions);
        byte[] frame = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), json.Length);
        json.CopyTo(frame, 8);
        stream.Write(frame);
        stream.Flush();
    }

    /// <summary>The next message, or null at the end of the stream; <see cref="InvalidDataException"/> if the bytes are not a message.</summary>
    public static T? Read<T>(Stream stream)
        where T : class
    {
        Span<byte> header = stackalloc byte[8];
        int got = stream.ReadAtLeast(header, 8, throwOnEndOfStream: false);
        if (got == 0)
        {
            return null;
        }
        if (got < 8 || BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic)
        {
            throw new InvalidDataException("The worker's output is not a Kettle message (did something write to the process's standard output directly?).");
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (length is < 0 or > MaxMessageBytes)
        {
            throw new InvalidDataException("The worker sent a message of an impossible length.");
        }
        byte[] body = new byte[length];
        stream.ReadExactly(body);
        return JsonSerializer.Deserialize<T>(body, MessageOptions) ?? throw new InvalidDataException("The worker sent an empty message.");
    }
}

/// <summary>A request to a worker: start (run the initializer, if any) or call a method.</summary>
internal sealed class WorkerRequest
{
    public const string KindStart = "start";
    public const string KindCall = "call";

    public long Id { get; set; }

    public string Kind { get; set; } = KindCall;

    /// <summary>The simple name of the method's assembly (null: no method, for a start without initializer).</summary>
    public string? Assembly { get; set; }

    /// <summary>The module version id of the build the parent has: the worker must have the same one.</summary>
    public Guid Mvid { get; set; }

    public int Token { get; set; }

    /// <summary>The method's name, for messages only.</summary>
    public string? Name { get; set; }

    public JsonElement[]? Args { get; set; }
}

/// <summary>A worker's reply: the result (as JSON of the declared return type) or the exception.</summary>
internal sealed class WorkerReply
{
    public long Id { get; set; }

    public bool Ok { get; set; }

    public JsonElement? Result { get; set; }

    public RemoteError? Error { get; set; }

    public int ProcessId { get; set; }
}

/// <summary>An exception as text.</summary>
internal sealed class RemoteError
{
    public string Type { get; set; } = "System.Exception";

    public string Message { get; set; } = string.Empty;

    public string? Stack { get; set; }

    public RemoteError? Inner { get; set; }

    public static RemoteError From(Exception ex, int depth = 0) => new()
    {
        Type = ex.GetType().FullName ?? ex.GetType().Name,
        Message = ex.Message,
        Stack = ex.StackTrace,
        Inner = ex.InnerException is { } inner && depth < 16 ? From(inner, depth + 1) : null,
    };

    public RemoteException ToException() => new(Type, Message, Stack, Inner?.ToException());
}
