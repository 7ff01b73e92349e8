using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Kettle;

/// <summary>
/// Writes bytes to a connection opened by <see cref="Aio.OpenConnection"/> or accepted by an
/// <see cref="AioServer"/>. asyncio counterpart: <c>asyncio.StreamWriter</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="Write(ReadOnlySpan{byte})"/> never waits: it sends what the socket takes at once and
/// buffers the rest, which is sent in the background on the loop.</item>
/// <item>Backpressure: <see cref="Drain"/> waits while more than the high-water mark is buffered, until the
/// buffer falls to the low-water mark (defaults 64 KiB / 16 KiB, as asyncio). Call it after writes.</item>
/// <item><see cref="Close"/> sends what is buffered, then closes; <see cref="WaitClosed"/> waits for that.
/// <see cref="WriteEof"/> half-closes: the peer reads the end of the stream, and this side can still read.</item>
/// <item>A failed send is reported by the next <see cref="Drain"/> or <see cref="Write(ReadOnlySpan{byte})"/>
/// as an <see cref="IOException"/> ("connection lost").</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class AioStreamWriter
{
    private readonly Transport transport;
    private readonly EventLoop loop;
    private readonly Queue<byte[]> pending = new();
    private int headSent;
    private int buffered;
    private bool sending;
    private bool closing;
    private bool closed;
    private bool eofRequested;
    private bool eofSent;
    private Exception? error;
    private List<Future<bool>>? drainWaiters;
    private List<Future<bool>>? closeWaiters;
    private int highWater = 64 * 1024;
    private int lowWater = 16 * 1024;

    internal AioStreamWriter(Transport transport, EventLoop loop, AioStreamReader reader)
    {
        this.transport = transport;
        this.loop = loop;
        Reader = reader;
    }

    /// <summary>The reader of the same connection.</summary>
    public AioStreamReader Reader { get; }

    /// <summary>The peer's address. asyncio: <c>get_extra_info("peername")</c>.</summary>
    public EndPoint? RemoteEndPoint => transport.RemoteEndPoint;

    /// <summary>This side's address. asyncio: <c>get_extra_info("sockname")</c>.</summary>
    public EndPoint? LocalEndPoint => transport.LocalEndPoint;

    /// <summary>The socket (null for a child process's pipe). asyncio: <c>get_extra_info("socket")</c>. Do not
    /// read or write it directly.</summary>
    public Socket? Socket => transport.Socket;

    /// <summary>The TLS stream, or null on a plain connection. asyncio: <c>get_extra_info("ssl_object")</c>.</summary>
    public SslStream? SslStream => transport.Ssl;

    /// <summary>How many bytes are buffered, not yet sent. asyncio: <c>transport.get_write_buffer_size()</c>.</summary>
    public int BufferSize => buffered;

    /// <summary>Whether <see cref="Close"/> was called or the connection was lost. asyncio: <c>is_closing()</c>.</summary>
    public bool IsClosing => closing || error is not null;

    /// <summary>Whether the writer can half-close (always true for sockets). asyncio: <c>can_write_eof()</c>.</summary>
    public bool CanWriteEof => true;

    /// <summary>
    /// Sets the buffer marks for <see cref="Drain"/>: it waits while more than <paramref name="high"/> bytes are
    /// buffered, until at most <paramref name="low"/> remain. asyncio: <c>transport.set_write_buffer_limits</c>
    /// (default high 64 KiB; low defaults to high / 4).
    /// </summary>
    public void SetWriteBufferLimits(int high, int? low = null)
    {
        loop.CheckThread(nameof(SetWriteBufferLimits));
        int lo = low ?? high / 4;
        if (high < 0 || lo < 0 || lo > high)
        {
            throw new ArgumentException($"Need 0 <= low ({lo}) <= high ({high}).");
        }
        highWater = high;
        lowWater = lo;
        WakeDrainersIfLow();
    }

    /// <summary>Writes <paramref name="data"/> without waiting (what the socket does not take is buffered).
    /// asyncio: <c>write(data)</c>.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        loop.CheckThread(nameof(Write));
        ThrowIfLost();
        if (closing || eofRequested)
        {
            throw new InvalidOperationException(closing ? "Cannot write: the writer is closed." : "Cannot write after WriteEof.");
        }
        if (data.IsEmpty)
        {
            return;
        }
        if (!sending && buffered == 0)
        {
            int n;
            try
            {
                n = transport.TrySendNow(data);
            }
            catch (SocketException ex)
            {
                Lose(ex);
                ThrowIfLost();
                return;
            }
            if (n == data.Length)
            {
                return;
            }
            data = data[n..];
        }
        pending.Enqueue(data.ToArray());
        buffered += data.Length;
        StartSending();
    }

    /// <summary>Writes <paramref name="data"/> without waiting. asyncio: <c>write(data)</c>.</summary>
    public void Write(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Write(data.AsSpan());
    }

    /// <summary>Writes each buffer in turn. asyncio: <c>writelines(data)</c>.</summary>
    public void WriteLines(IEnumerable<byte[]> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        foreach (var d in data)
        {
            Write(d);
        }
    }

    /// <summary>
    /// Waits until the buffer is at or below the low-water mark if it is above the high-water mark; returns at
    /// once otherwise. Throws <see cref="IOException"/> if the connection was lost. A cancellation point when it
    /// waits. asyncio: <c>drain()</c>.
    /// </summary>
    public async Coroutine Drain()
    {
        loop.CheckThread(nameof(Drain));
        ThrowIfLost();
        if (buffered > highWater && !closed)
        {
            var f = new Future<bool>(loop);
            (drainWaiters ??= new()).Add(f);
            try
            {
                await f;
            }
            finally
            {
                drainWaiters.Remove(f);
            }
        }
        ThrowIfLost();
    }

    /// <summary>
    /// Half-closes: after the buffered data, the peer reads the end of the stream. This side can still read.
    /// asyncio: <c>write_eof()</c>.
    /// </summary>
    public void WriteEof()
    {
        loop.CheckThread(nameof(WriteEof));
        if (closing || eofRequested)
        {
            return;
        }
        eofRequested = true;
        StartSending();
    }

    /// <summary>Sends what is buffered, then closes the connection (both directions). Idempotent.
    /// asyncio: <c>close()</c>.</summary>
    public void Close()
    {
        loop.CheckThread(nameof(Close));
        if (closing)
        {
            return;
        }
        closing = true;
        if (!sending)
        {
            FinishClose();
        }
    }

    /// <summary>Closes at once, dropping what is buffered. asyncio: <c>transport.abort()</c>.</summary>
    public void Abort()
    {
        loop.CheckThread(nameof(Abort));
        closing = true;
        pending.Clear();
        buffered = 0;
        FinishClose();
    }

    /// <summary>Waits until the connection is closed (after <see cref="Close"/>). asyncio: <c>wait_closed()</c>.</summary>
    public async Coroutine WaitClosed()
    {
        loop.CheckThread(nameof(WaitClosed));
        if (closed)
        {
            return;
        }
        var f = new Future<bool>(loop);
        (closeWaiters ??= new()).Add(f);
        try
        {
            await f;
        }
        finally
        {
            closeWaiters.Remove(f);
        }
    }

    private void ThrowIfLost()
    {
        if (error is not null)
        {
            throw new IOException($"Connection lost: {error.Message}", error);
        }
    }

    private void Lose(Exception ex)
    {
        error ??= ex;
        pending.Clear();
        buffered = 0;
        WakeDrainers();
    }

    private void StartSending()
    {
        if (sending || closed)
        {
            return;
        }
        sending = true;
        if (transport is SelectorSocketTransport selected)
        {
            SendReady(selected);
            return;
        }
        loop.executorPending++;
        // The pump's awaits resume through the loop's SynchronizationContext, whatever the caller's step installed.
        var saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(loop.SynchronizationContext);
        try
        {
            _ = Pump();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }
    }

    /// <summary>Sends the buffered chunks in order, then the half-close if asked; runs on the loop thread.</summary>
    private async Task Pump()
    {
        try
        {
            while (pending.Count > 0 && !closed)
            {
                var chunk = pending.Peek();
                await transport.SendAsync(chunk.AsMemory(headSent), CancellationToken.None);
                if (closed)
                {
                    break;
                }
                pending.Dequeue();
                buffered -= chunk.Length - headSent;
                headSent = 0;
                WakeDrainersIfLow();
            }
            if (eofRequested && !eofSent && !closed && error is null)
            {
                eofSent = true;
                await transport.ShutdownSendAsync();
            }
        }
        catch (Exception ex)
        {
            if (!closed)
            {
                Lose(ex);
            }
        }
        finally
        {
            sending = false;
            loop.executorPending--;
            if (closing)
            {
                FinishClose();
            }
        }
    }

    /// <summary>
    /// Selector path: sends the buffered chunks until the socket would block, then asks to be called at the next
    /// writability edge (asyncio's <c>_write_ready</c>); then the half-close if asked. Loop thread.
    /// </summary>
    private void SendReady(SelectorSocketTransport selected)
    {
        try
        {
            while (pending.Count > 0 && !closed)
            {
                var chunk = pending.Peek();
                int n = selected.TrySendNow(chunk.AsSpan(headSent));
                if (n == 0)
                {
                    selected.WhenWritable(sendReady ??= () => SendReady((SelectorSocketTransport)transport));
                    return;
                }
                headSent += n;
                buffered -= n;
                if (headSent == chunk.Length)
                {
                    pending.Dequeue();
                    headSent = 0;
                }
                WakeDrainersIfLow();
            }
            if (eofRequested && !eofSent && !closed && error is null)
            {
                eofSent = true;
                selected.ShutdownSend();
            }
        }
        catch (Exception ex)
        {
            // As the portable pump: any failure is a lost connection, reported by the next Write or Drain (this
            // runs from the selector, where an exception would stop the loop).
            if (!closed)
            {
                Lose(ex);
            }
        }
        sending = false;
        if (closing)
        {
            FinishClose();
        }
    }

    private Action? sendReady;

    private void WakeDrainersIfLow()
    {
        if (buffered <= lowWater)
        {
            WakeDrainers();
        }
    }

    private void WakeDrainers()
    {
        if (drainWaiters is { Count: > 0 } list)
        {
            foreach (var f in list.ToArray())
            {
                f.TrySetResult(true);
            }
        }
    }

    private void FinishClose()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (transport is SelectorSocketTransport selected)
        {
            // Aborted while waiting to send: the socket goes now, and so does the wait.
            selected.CancelWritable();
            sending = false;
        }
        transport.Close();
        WakeDrainers();
        if (closeWaiters is { Count: > 0 } list)
        {
            foreach (var f in list.ToArray())
            {
                f.TrySetResult(true);
            }
        }
    }
}
