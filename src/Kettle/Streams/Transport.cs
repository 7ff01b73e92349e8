using System.Net.Security;
using System.Net.Sockets;

namespace Kettle;

/// <summary>
/// The byte pipe under a reader/writer pair: a connected socket, optionally wrapped in TLS.
/// asyncio counterpart: the transport (<c>_SelectorSocketTransport</c>, <c>_SSLProtocolTransport</c>).
/// </summary>
/// <remarks>Threading: loop thread only (its async operations complete back on the loop).</remarks>
internal abstract class Transport
{
    protected Transport(Socket? socket)
    {
        Socket = socket;
        try
        {
            RemoteEndPoint = socket?.RemoteEndPoint;
            LocalEndPoint = socket?.LocalEndPoint;
        }
        catch (SocketException)
        {
            // Not connected any more: leave the addresses unknown.
        }
    }

    public Socket? Socket { get; }

    public System.Net.EndPoint? RemoteEndPoint { get; }

    public System.Net.EndPoint? LocalEndPoint { get; }

    public virtual SslStream? Ssl => null;

    /// <summary>Set once <see cref="Close"/> ran: a read that fails afterwards is an end of stream, not an error.</summary>
    public bool ClosedLocally { get; private set; }

    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends what the kernel takes at once without blocking; returns how much (0 when nothing, or when
    /// the transport cannot send synchronously, as TLS).</summary>
    public virtual int TrySendNow(ReadOnlySpan<byte> data) => 0;

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>One send on a non-blocking socket: what the kernel took (0 when it would block); other errors throw.</summary>
    protected static int SendWithoutBlocking(Socket socket, ReadOnlySpan<byte> data)
    {
        int sent = socket.Send(data, SocketFlags.None, out SocketError error);
        if (error == SocketError.WouldBlock)
        {
            return 0;
        }
        if (error != SocketError.Success)
        {
            throw new SocketException((int)error);
        }
        return sent;
    }

    public abstract ValueTask ShutdownSendAsync();

    private bool reading;
    private bool closeAfterRead;

    /// <summary>A read is in flight (the reader says so, to let <see cref="Close"/> end it gracefully).</summary>
    public void BeginRead() => reading = true;

    public void EndRead()
    {
        reading = false;
        if (closeAfterRead)
        {
            closeAfterRead = false;
            CloseCore();
        }
    }

    /// <summary>
    /// Closes. A socket with a read in flight is shut down first (the peer gets a FIN, the read ends as end of
    /// stream) and released when that read returns: disposing it under the read would make .NET abort the
    /// connection with a reset.
    /// </summary>
    public void Close()
    {
        if (ClosedLocally)
        {
            return;
        }
        ClosedLocally = true;
        if (reading && Socket is { } socket)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
                closeAfterRead = true;
                ShutDownUnderRead();
                return;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Not connected any more: release it now.
            }
        }
        CloseCore();
    }

    protected virtual void CloseCore() => Socket?.Dispose();

    /// <summary>Close shut the socket down while a read waits: the read must see the end of the stream.</summary>
    protected virtual void ShutDownUnderRead()
    {
    }
}

/// <summary>
/// A plain connected socket driven by the loop's selector (Linux): non-blocking, never given to .NET's socket
/// engine; reads and writes are system calls made on the loop thread, tried first, and waited for only when they
/// would block (asyncio's <c>_SelectorSocketTransport</c>). The socket is registered once, edge-triggered, for
/// reading and writing: an edge is a hint to try again.
/// </summary>
internal sealed class SelectorSocketTransport : Transport, IIoReady
{
    private const uint ReadEvents = LoopSelector.Readable | LoopSelector.ReadHangUp | LoopSelector.HangUp | LoopSelector.Error;
    private const uint WriteEvents = LoopSelector.Writable | LoopSelector.HangUp | LoopSelector.Error;

    private readonly Socket socket;
    private readonly EventLoop loop;
    private readonly SafeSocketHandle handle;
    private readonly nint fd;
    private readonly ReadinessWait readable;
    private int token = -1;
    private Action? onWritable;
    // False once a read came back short or would block: the kernel buffer was empty then, so the next read waits
    // for an edge first (any data arriving later makes one). An edge, or a read that filled the buffer, sets it.
    private bool mayRead = true;
    // The peer's end of stream or an error was seen: a short read no longer means nothing is left (the 0 of the
    // end, or the error, is still to be read, and its edge has been and gone), so reads are always tried.
    private bool peerDone;

    public SelectorSocketTransport(Socket socket, EventLoop loop)
        : base(socket)
    {
        this.socket = socket;
        this.loop = loop;
        socket.Blocking = false;
        handle = socket.SafeHandle;
        fd = handle.DangerousGetHandle();
        readable = new ReadinessWait(loop);
        token = loop.Selector.Register(fd, LoopSelector.Readable | LoopSelector.Writable | LoopSelector.ReadHangUp, this);
    }

    /// <summary>Whether a read should be tried before waiting (see <see cref="mayRead"/>).</summary>
    public bool MayRead => mayRead;

    /// <summary>Receives what is there; -1 when it would block. Throws <see cref="SocketException"/> on an error.</summary>
    public int TryReceive(Span<byte> buffer)
    {
        int n = RawSocket.Receive(handle, buffer);
        if (n >= 0)
        {
            mayRead = peerDone || n == buffer.Length;
            return n;
        }
        mayRead = peerDone;
        return -1;
    }

    /// <summary>Waits for the next readability edge; a cancellation point; counts as outside work meanwhile.</summary>
    public WaitAwaitable WaitReadable() => readable.Wait();

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A selector transport is read with TryReceive and WaitReadable.");

    public override int TrySendNow(ReadOnlySpan<byte> data) => RawSocket.Send(handle, data);

    /// <summary>Calls <paramref name="callback"/> once, at the next writability edge (or error); counts as outside
    /// work until then. One at a time.</summary>
    public void WhenWritable(Action callback)
    {
        if (onWritable is null)
        {
            loop.externalPending++;
        }
        onWritable = callback;
    }

    /// <summary>Forgets a <see cref="WhenWritable"/> callback not yet called.</summary>
    public void CancelWritable()
    {
        if (onWritable is not null)
        {
            onWritable = null;
            loop.externalPending--;
        }
    }

    void IIoReady.OnIoReady(uint events)
    {
        if ((events & ReadEvents) != 0)
        {
            if ((events & (LoopSelector.ReadHangUp | LoopSelector.HangUp | LoopSelector.Error)) != 0)
            {
                peerDone = true;
            }
            mayRead = true;
            readable.WakeOne();
        }
        if ((events & WriteEvents) != 0 && onWritable is { } w)
        {
            onWritable = null;
            loop.externalPending--;
            w();
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A selector transport is written with TrySendNow and WhenWritable.");

    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    public override ValueTask ShutdownSendAsync()
    {
        ShutdownSend();
        return ValueTask.CompletedTask;
    }

    protected override void ShutDownUnderRead()
    {
        // The read tries again and sees the end of the stream (the kernel would tell too, but need not be waited for).
        peerDone = true;
        mayRead = true;
        readable.WakeOne();
    }

    protected override void CloseCore()
    {
        CancelWritable();
        loop.Selector.Unregister(fd, token);
        token = -1;
        socket.Dispose();
    }
}

/// <summary>
/// Where a task waits for a descriptor's readiness (an auto-reset event woken by the selector). While a task waits,
/// the loop counts it as outside work, so virtual time does not jump past data still on its way.
/// </summary>
internal sealed class ReadinessWait : IWaitSource
{
    private readonly WaiterList waiters = new();
    private readonly EventLoop loop;

    public ReadinessWait(EventLoop loop) => this.loop = loop;

    public WaitAwaitable Wait()
    {
        loop.externalPending++;
        return new WaitAwaitable(this, false);
    }

    public void WakeOne() => waiters.PopAndWakeNext();

    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        waiters.Remove(waiter);
        loop.externalPending--;
        return true;
    }

    WaiterList IWaitSource.Waiters => waiters;

    string IWaitSource.WaitName => "AioStreamReader.Read";

    void IWaitSource.UndoFastPath()
    {
    }

    void IWaitSource.ReleaseFromScope()
    {
    }
}

/// <summary>A plain connected socket. Writes are tried synchronously first (asyncio does the same).</summary>
internal sealed class SocketTransport : Transport
{
    private readonly Socket socket;

    public SocketTransport(Socket socket)
        : base(socket)
    {
        this.socket = socket;
        socket.Blocking = false;
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override int TrySendNow(ReadOnlySpan<byte> data) => SendWithoutBlocking(socket, data);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[n..];
        }
    }

    public override ValueTask ShutdownSendAsync()
    {
        socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }
}

/// <summary>TLS over a connected socket, through <see cref="SslStream"/>.</summary>
internal sealed class SslTransport : Transport
{
    private readonly SslStream ssl;
    private readonly Socket socket;

    private SslTransport(Socket socket, SslStream ssl)
        : base(socket)
    {
        this.ssl = ssl;
        this.socket = socket;
    }

    public override SslStream? Ssl => ssl;

    public static async Coroutine<Transport> ConnectAsync(Socket socket, SslClientAuthenticationOptions options, string host, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            options.TargetHost ??= host;
            await ssl.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
        return new SslTransport(socket, ssl);
    }

    public static async Coroutine<Transport> AcceptAsync(Socket socket, SslServerAuthenticationOptions options, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await ssl.AuthenticateAsServerAsync(options, cancellationToken);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
        return new SslTransport(socket, ssl);
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        ssl.ReadAsync(buffer, cancellationToken);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        ssl.WriteAsync(data, cancellationToken);

    public override async ValueTask ShutdownSendAsync()
    {
        await ssl.ShutdownAsync().ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
    }

    protected override void CloseCore()
    {
        ssl.Dispose();
        socket.Dispose();
    }
}

/// <summary>One direction of a pipe (a child process's stdin, stdout or stderr) as a transport.</summary>
internal sealed class PipeTransport : Transport
{
    private readonly Stream stream;

    public PipeTransport(Stream stream)
        : base(null) => this.stream = stream;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        stream.ReadAsync(buffer, cancellationToken);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pipe has no half-close: closing it is the end of stream for the reader.</summary>
    public override ValueTask ShutdownSendAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    protected override void CloseCore() => stream.Dispose();
}
