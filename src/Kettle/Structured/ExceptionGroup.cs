using System.Globalization;

namespace Kettle;

/// <summary>
/// Several exceptions raised together, kept with their nesting. asyncio counterpart: <c>ExceptionGroup</c> /
/// <c>BaseExceptionGroup</c>, what a <see cref="TaskGroup"/> raises when children fail.
/// </summary>
/// <remarks>
/// <para>It is an <see cref="AggregateException"/>, so .NET code that handles AggregateException keeps working;
/// unlike AggregateException, Kettle never flattens it: a group raised inside another group's task stays a
/// nested group (asyncio's <c>EG(EG(ValueError))</c>).</para>
/// <para>What Python's <c>except*</c> does, in C#:</para>
/// <code>
/// catch (ExceptionGroup eg) when (eg.Contains&lt;ArgumentException&gt;())
/// {
///     var (args, rest) = eg.Split&lt;ArgumentException&gt;();
///     foreach (var e in args!.Leaves()) Console.WriteLine($"Caught: {e.Message}");
///     rest?.Rethrow();   // whatever was not handled goes on up
/// }
/// </code>
/// <para>Threading: immutable; any thread.</para>
/// </remarks>
public class ExceptionGroup : AggregateException
{
    /// <summary>Creates a group. <paramref name="exceptions"/> must not be empty.</summary>
    public ExceptionGroup(string message, IEnumerable<Exception> exceptions)
        : base(message, Validate(exceptions))
    {
        GroupMessage = message ?? throw new ArgumentNullException(nameof(message));
    }

    /// <summary>Creates a group. <paramref name="exceptions"/> must not be empty.</summary>
    public ExceptionGroup(string message, params Exception[] exceptions)
        : this(message, (IEnumerable<Exception>)exceptions)
    {
    }

    /// <summary>Creates a group with a default message and one exception.</summary>
    public ExceptionGroup()
        : this("exception group", new Exception("(empty)"))
    {
    }

    /// <summary>Creates a group with one exception.</summary>
    public ExceptionGroup(string message)
        : this(message, new Exception(message))
    {
    }

    /// <summary>Creates a group with one inner exception.</summary>
    public ExceptionGroup(string message, Exception innerException)
        : this(message, [innerException])
    {
    }

    private static List<Exception> Validate(IEnumerable<Exception> exceptions)
    {
        ArgumentNullException.ThrowIfNull(exceptions);
        var list = exceptions.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("An exception group needs at least one exception.", nameof(exceptions));
        }
        if (list.Any(e => e is null))
        {
            throw new ArgumentException("An exception group cannot contain null.", nameof(exceptions));
        }
        return list;
    }

    /// <summary>The group's own message, without the count (asyncio: <c>eg.message</c>).</summary>
    public string GroupMessage { get; }

    /// <summary>"message (N sub-exceptions)", as Python prints a group.</summary>
    public override string Message =>
        string.Format(CultureInfo.InvariantCulture, "{0} ({1} sub-exception{2})", GroupMessage, InnerExceptions.Count, InnerExceptions.Count == 1 ? "" : "s");

    /// <summary>The direct members, in order, nested groups included (asyncio: <c>eg.exceptions</c>).</summary>
    public IReadOnlyList<Exception> Exceptions => InnerExceptions;

    /// <summary>Every exception that is not a group, depth first, in order.</summary>
    public IEnumerable<Exception> Leaves()
    {
        foreach (var e in InnerExceptions)
        {
            if (e is ExceptionGroup g)
            {
                foreach (var leaf in g.Leaves())
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return e;
            }
        }
    }

    /// <summary>Whether any leaf is a <typeparamref name="TException"/> (for <c>catch ... when</c>).</summary>
    public bool Contains<TException>()
        where TException : Exception => Leaves().Any(e => e is TException);

    /// <summary>
    /// Splits the group into the part whose leaves are <typeparamref name="TException"/> and the rest, keeping the
    /// nesting; either part is null when empty. asyncio counterpart: <c>eg.split(TException)</c>.
    /// </summary>
    public (ExceptionGroup? Match, ExceptionGroup? Remainder) Split<TException>()
        where TException : Exception => Split(e => e is TException);

    /// <summary>
    /// Splits the group by <paramref name="predicate"/>, which is asked about the group itself first, then about
    /// each member (nested groups are split recursively). asyncio counterpart: <c>eg.split(condition)</c>.
    /// </summary>
    public (ExceptionGroup? Match, ExceptionGroup? Remainder) Split(Func<Exception, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        if (predicate(this))
        {
            return (this, null);
        }
        var match = new List<Exception>();
        var rest = new List<Exception>();
        foreach (var e in InnerExceptions)
        {
            if (e is ExceptionGroup g)
            {
                var (m, r) = g.Split(predicate);
                if (m is not null)
                {
                    match.Add(m);
                }
                if (r is not null)
                {
                    rest.Add(r);
                }
            }
            else if (predicate(e))
            {
                match.Add(e);
            }
            else
            {
                rest.Add(e);
            }
        }
        return (match.Count == 0 ? null : match.Count == InnerExceptions.Count && SameMembers(match) ? this : Derive(match),
                rest.Count == 0 ? null : rest.Count == InnerExceptions.Count && SameMembers(rest) ? this : Derive(rest));
    }

    private bool SameMembers(List<Exception> list)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (!ReferenceEquals(list[i], InnerExceptions[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The part of the group whose leaves match; null if none. asyncio counterpart: <c>eg.subgroup</c>.</summary>
    public ExceptionGroup? Subgroup(Func<Exception, bool> predicate) => Split(predicate).Match;

    /// <summary>The part of the group whose leaves are <typeparamref name="TException"/>; null if none.</summary>
    public ExceptionGroup? Subgroup<TException>()
        where TException : Exception => Split<TException>().Match;

    /// <summary>A group with the same message around other members (used by <see cref="Split(Func{Exception, bool})"/>).
    /// asyncio counterpart: <c>eg.derive</c>. Subclasses override it to keep their type.</summary>
    public virtual ExceptionGroup Derive(IEnumerable<Exception> exceptions) => new(GroupMessage, exceptions);

    /// <summary>Throws this group again, keeping its original stack trace.</summary>
    public void Rethrow() => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(this);
}
