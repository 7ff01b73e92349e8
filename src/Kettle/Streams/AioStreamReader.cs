using System.Net.Sockets;

namespace Kettle;

/// <summary>
/// Reads bytes from a connection opened by <see cref="Aio.OpenConnection"/> or accepted by an
/// <see cref="AioServer"/>. asyncio counterpart: <c>asyncio.StreamReader</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Data is pulled from the socket only when a read needs more than is buffered, so a slow reader slows
/// its peer down through TCP's own flow control.</item>
/// <item><see cref="ReadUntil"/> and <see cref="ReadLine"/> keep at most <see cref="Limit"/> bytes before the
/// separator: past that they throw <see cref="LimitOverrunException"/> and leave the data buffered.</item>
/// <item>Every read is a cancellation point: cancelling the task cancels the pending socket read (through the
/// task's <see cref="AioTask.CancellationToken"/>) and the read throws <see cref="CancelledException"/>; no
/// byte is lost.</item>
/// <item>One task reads at a time: a read started while another waits for data throws
/// <see cref="InvalidOperationException"/> (asyncio raises RuntimeError).</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class AioStreamReader
{
    /// <summary>The default <see cref="Limit"/>: 64 KiB, as asyncio's <c>_DEFAULT_LIMIT</c>.</summary>
    public const int DefaultLimit = 64 * 1024;

    private const int MinRead = 4096;

    private readonly Transport transport;
    private readonly EventLoop loop;
    private byte[] buffer = [];
    private int start;
    private int end;
    private bool eof;
    private bool waiting;

    internal AioStreamReader(Transport transport, EventLoop loop, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        this.transport = transport;
        this.loop = loop;
        Limit = limit;
    }

    /// <summary>The most bytes <see cref="ReadUntil"/> and <see cref="ReadLine"/> buffer before the separator.</summary>
    public int Limit { get; }

    /// <summary>Whether the stream has ended and the buffer is empty. asyncio: <c>at_eof()</c>.</summary>
    public bool AtEof => eof && start == end;

    /// <summary>How many bytes are buffered (read from the socket, not yet returned).</summary>
    public int BufferedCount => end - start;

    /// <summary>
    /// Reads up to <paramref name="n"/> bytes: what is buffered, or else what the next socket read brings; an
    /// empty array at the end of the stream. With <paramref name="n"/> = -1, reads until the end of the stream.
    /// asyncio: <c>read(n=-1)</c>.
    /// </summary>
    public async Coroutine<byte[]> Read(int n = -1)
    {
        loop.CheckThread(nameof(Read));
        if (n == 0)
        {
            return [];
        }
        if (n < 0)
        {
            while (await Fill())
            {
            }
            return Take(end - start);
        }
        if (start == end)
        {
            await Fill();
        }
        return Take(Math.Min(n, end - start));
    }

    /// <summary>
    /// Reads exactly <paramref name="n"/> bytes. If the stream ends first, throws
    /// <see cref="IncompleteReadException"/> carrying the bytes read. asyncio: <c>readexactly(n)</c>.
    /// </summary>
    public async Coroutine<byte[]> ReadExactly(int n)
    {
        loop.CheckThread(nameof(ReadExactly));
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        while (end - start < n)
        {
            if (!await Fill())
            {
                throw new IncompleteReadException(Take(end - start), n);
            }
        }
        return Take(n);
    }

    /// <summary>
    /// Reads one line, ending with <c>\n</c>. At the end of the stream returns the partial last line (or an
    /// empty array). A line longer than <see cref="Limit"/> throws <see cref="LimitOverrunException"/> and
    /// stays buffered. asyncio: <c>readline()</c> (which, unlike Kettle, discards the overlong line).
    /// </summary>
    public async Coroutine<byte[]> ReadLine()
    {
        loop.CheckThread(nameof(ReadLine));
        try
        {
            return await ReadUntil(NewLine);
        }
        catch (IncompleteReadException e)
        {
            return e.Partial;
        }
    }

    private static readonly byte[] NewLine = [(byte)'\n'];

    /// <summary>
    /// Reads up to and including <paramref name="separator"/>. If the stream ends first, throws
    /// <see cref="IncompleteReadException"/> with what was buffered (then removed). If the separator is not
    /// found within <see cref="Limit"/> bytes, throws <see cref="LimitOverrunException"/> and the data stays
    /// buffered. asyncio: <c>readuntil(separator)</c>.
    /// </summary>
    public async Coroutine<byte[]> ReadUntil(ReadOnlyMemory<byte> separator)
    {
        loop.CheckThread(nameof(ReadUntil));
        if (separator.IsEmpty)
        {
            throw new ArgumentException("The separator must contain at least one byte.", nameof(separator));
        }
        int sepLength = separator.Length;
        int offset = 0;
        while (true)
        {
            int available = end - start;
            if (available - offset >= sepLength)
            {
                int index = buffer.AsSpan(start + offset, available - offset).IndexOf(separator.Span);
                if (index >= 0)
                {
                    index += offset;
                    if (index > Limit)
                    {
                        throw new LimitOverrunException(
                            $"Separator is found, but the chunk before it ({index} bytes) is longer than the limit ({Limit} bytes); the data stays buffered.", index);
                    }
                    return Take(index + sepLength);
                }
                offset = available + 1 - sepLength;
                if (offset > Limit)
                {
                    throw new LimitOverrunException(
                        $"Separator is not found, and the chunk exceeds the limit ({Limit} bytes); the data stays buffered.", offset);
                }
            }
            if (!await Fill())
            {
                throw new IncompleteReadException(Take(end - start), null);
            }
        }
    }

    private byte[] Take(int count)
    {
        if (count == 0)
        {
            return [];
        }
        var result = buffer.AsSpan(start, count).ToArray();
        start += count;
        if (start == end)
        {
            start = end = 0;
        }
        return result;
    }

    /// <summary>Reads more from the socket into the buffer; false at the end of the stream.</summary>
    private async Coroutine<bool> Fill()
    {
        if (eof)
        {
            return false;
        }
        if (waiting)
        {
            throw new InvalidOperationException("A read was started while another task is already waiting for data on this stream.");
        }
        if (buffer.Length - end < MinRead)
        {
            int count = end - start;
            if (start > 0 && buffer.Length - count >= MinRead)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, count);
            }
            else
            {
                var bigger = new byte[Math.Max(MinRead * 2, buffer.Length * 2)];
                Buffer.BlockCopy(buffer, start, bigger, 0, count);
                buffer = bigger;
            }
            start = 0;
            end = count;
        }
        var task = loop.currentTask;
        var token = task is null ? default : task.CancellationToken;
        int n;
        waiting = true;
        transport.BeginRead();
        try
        {
            if (transport is SelectorSocketTransport selected)
            {
                // Selector path: the read is a system call on the loop thread, waited for only when it would block.
                while (!selected.MayRead || (n = selected.TryReceive(buffer.AsSpan(end))) < 0)
                {
                    await selected.WaitReadable();
                }
            }
            else
            {
                n = await transport.ReceiveAsync(buffer.AsMemory(end), token);
            }
        }
        catch (OperationCanceledException oce) when (oce is not CancelledException && token.IsCancellationRequested)
        {
            throw new CancelledException(task!.extras?.CancelMessage, oce);
        }
        catch (Exception ex) when (transport.ClosedLocally && ex is ObjectDisposedException or SocketException or IOException)
        {
            // Closed on this side while the read waited: that is the end of the stream.
            n = 0;
        }
        finally
        {
            waiting = false;
            transport.EndRead();
        }
        if (n == 0)
        {
            eof = true;
            return false;
        }
        end += n;
        return true;
    }
}
