namespace Kettle.Tests;

/// <summary>ExceptionGroup: Python's BaseExceptionGroup split/subgroup/derive rules (Lib/test/test_exception_group.py).</summary>
public class ExceptionGroupTests
{
    private static readonly ArgumentException Arg1 = new("a1");
    private static readonly ArgumentException Arg2 = new("a2");
    private static readonly TestException Test1 = new("t1");
    private static readonly InvalidOperationException Op1 = new("o1");

    // EG("outer", [Arg1, EG("inner", [Test1, Arg2]), Op1])
    private static ExceptionGroup Nested() =>
        new("outer", Arg1, new ExceptionGroup("inner", Test1, Arg2), Op1);

    [Fact]
    public void Constructor_EmptyList_ArgumentException()
    {
        Assert.Throws<ArgumentException>(() => new ExceptionGroup("m", Array.Empty<Exception>()));
        Assert.Throws<ArgumentException>(() => new ExceptionGroup("m", new Exception[] { null! }));
    }

    [Fact]
    public void Group_IsAnAggregateException_InnerExceptionsAreDirectMembers()
    {
        AggregateException agg = Nested();

        Assert.Equal(3, agg.InnerExceptions.Count);
        Assert.IsType<ExceptionGroup>(agg.InnerExceptions[1]);
        Assert.Same(Arg1, agg.InnerException);
        // Flatten is AggregateException's; the group itself never flattens.
        Assert.Equal(4, agg.Flatten().InnerExceptions.Count);
    }

    [Fact]
    public void Message_CountsDirectMembers_GroupMessageKept()
    {
        var eg = Nested();

        Assert.Equal("outer", eg.GroupMessage);
        Assert.Equal("outer (3 sub-exceptions)", eg.Message);
        Assert.Equal("x (1 sub-exception)", new ExceptionGroup("x", Arg1).Message);
    }

    [Fact]
    public void Leaves_Nested_DepthFirstInOrder()
    {
        Assert.Equal(new Exception[] { Arg1, Test1, Arg2, Op1 }, Nested().Leaves());
    }

    [Fact]
    public void Contains_LeafTypeNested_True()
    {
        var eg = Nested();

        Assert.True(eg.Contains<TestException>());
        Assert.True(eg.Contains<ArgumentException>());
        Assert.False(eg.Contains<TimeoutException>());
    }

    [Fact]
    public void SplitOfT_Nested_BothPartsKeepNesting()
    {
        // test_exception_group.py test_basics_split_by_type__match / __no_match: structure is preserved.
        var eg = Nested();

        var (match, rest) = eg.Split<ArgumentException>();

        Assert.NotNull(match);
        Assert.Equal("outer", match.GroupMessage);
        Assert.Equal(2, match.Exceptions.Count);
        Assert.Same(Arg1, match.Exceptions[0]);
        var innerMatch = Assert.IsType<ExceptionGroup>(match.Exceptions[1]);
        Assert.Equal("inner", innerMatch.GroupMessage);
        Assert.Same(Arg2, Assert.Single(innerMatch.Exceptions));

        Assert.NotNull(rest);
        Assert.Equal(2, rest.Exceptions.Count);
        var innerRest = Assert.IsType<ExceptionGroup>(rest.Exceptions[0]);
        Assert.Same(Test1, Assert.Single(innerRest.Exceptions));
        Assert.Same(Op1, rest.Exceptions[1]);
    }

    [Fact]
    public void Split_AllMatchOrNone_ReturnsTheGroupItselfAndNull()
    {
        var eg = Nested();

        var (all, none) = eg.Split<Exception>();
        Assert.Same(eg, all);
        Assert.Null(none);

        var (noMatch, everything) = eg.Split<TimeoutException>();
        Assert.Null(noMatch);
        Assert.Same(eg, everything);
    }

    [Fact]
    public void Split_PredicateMatchesTheGroupItself_WholeGroupMatches()
    {
        // Python asks the condition about the group first (test_basics_split_by_predicate__match on eg itself).
        var eg = Nested();

        var (match, rest) = eg.Split(e => e is ExceptionGroup { GroupMessage: "outer" });

        Assert.Same(eg, match);
        Assert.Null(rest);
    }

    [Fact]
    public void Split_PredicateMatchesNestedGroup_ThatGroupKeptWhole()
    {
        var eg = Nested();
        var inner = (ExceptionGroup)eg.Exceptions[1];

        var (match, rest) = eg.Split(e => ReferenceEquals(e, inner));

        Assert.Same(inner, Assert.Single(match!.Exceptions));
        Assert.Equal(new Exception[] { Arg1, Op1 }, rest!.Exceptions);
    }

    [Fact]
    public void Subgroup_Predicate_MatchPartOnly()
    {
        var eg = Nested();

        var sub = eg.Subgroup(e => e.Message.StartsWith('t'));

        Assert.NotNull(sub);
        Assert.Equal(new Exception[] { Test1 }, sub.Leaves());
        Assert.Null(eg.Subgroup<TimeoutException>());
        Assert.Equal(new Exception[] { Op1 }, eg.Subgroup<InvalidOperationException>()!.Leaves());
    }

    private sealed class MyGroup : ExceptionGroup
    {
        public MyGroup(string message, IEnumerable<Exception> exceptions)
            : base(message, exceptions)
        {
        }

        public override ExceptionGroup Derive(IEnumerable<Exception> exceptions) => new MyGroup(GroupMessage + "!", exceptions);
    }

    [Fact]
    public void Derive_Overridden_SplitKeepsSubclass()
    {
        // test_exception_group.py TestExceptionGroupSubclassing: split uses derive().
        var eg = new MyGroup("mine", [Arg1, Test1]);

        var (match, rest) = eg.Split<ArgumentException>();

        Assert.IsType<MyGroup>(match);
        Assert.Equal("mine!", match!.GroupMessage);
        Assert.IsType<MyGroup>(rest);
        Assert.Same(Test1, Assert.Single(rest!.Exceptions));
    }

    [Fact]
    public void Derive_Default_SameMessageNewMembers()
    {
        var derived = Nested().Derive([Op1]);

        Assert.IsType<ExceptionGroup>(derived);
        Assert.Equal("outer", derived.GroupMessage);
        Assert.Same(Op1, Assert.Single(derived.Exceptions));
    }

    [Fact]
    public void Rethrow_Group_SameInstanceThrown()
    {
        var eg = Nested();

        var thrown = Assert.Throws<ExceptionGroup>(eg.Rethrow);

        Assert.Same(eg, thrown);
    }

    [Fact]
    public void TaskGroupErrors_CatchWhenContains_SplitHandlesMatchingPart()
    {
        // except* with a TaskGroup: handle the ArgumentExceptions, the rest goes on.
        static async Coroutine<(string[], ExceptionGroup?)> Main()
        {
            try
            {
                await TaskGroup.Run(async tg =>
                {
                    _ = tg.CreateTask(Co.Throw(new ArgumentException("bad"), 1));
                    _ = tg.CreateTask(FailOnCancel());
                    await Aio.Yield();
                });
            }
            catch (ExceptionGroup eg) when (eg.Contains<ArgumentException>())
            {
                var (args, rest) = eg.Split<ArgumentException>();
                return (args!.Leaves().Select(e => e.Message).ToArray(), rest);
            }
            return ([], null);
        }

        static async Coroutine FailOnCancel()
        {
            try
            {
                await Aio.Sleep(10);
            }
            catch (CancelledException)
            {
                throw new TestException("cleanup failed");
            }
        }

        var (handled, rest) = Virtual.Run(Main());
        Assert.Equal(["bad"], handled);
        Assert.IsType<TestException>(Assert.Single(rest!.Exceptions));
    }
}
