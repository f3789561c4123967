"""The standard chart of accounts of a Chinese small business (小企业会计准则, simplified), with
per-platform sub-accounts for receivables and platform wallets. ``chart_ensure()`` creates what is
missing (idempotent); the posting rules find accounts by these codes."""

from django.utils.translation import gettext_lazy as _

from .models import Account, AccountType

A, L, E, R, X = AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY, AccountType.REVENUE, AccountType.EXPENSE

CASH = "1001"
BANK = "1002"
WALLET = "1012"  # 其他货币资金: the platform wallets (支付宝 / 京东钱包 / 多多钱包) are its sub-accounts
RECEIVABLE = "1122"  # 应收账款: per-platform sub-accounts
INVENTORY = "1405"
PAYABLE = "2202"
REVENUE = "6001"
OTHER_INCOME = "6051"
COGS = "6401"
SELLING = "6601"
COMMISSION = "660101"
SERVICE_FEE = "660102"
OTHER_FEE = "660103"
FINANCE_COST = "6603"
NON_OPERATING_INCOME = "6301"  # 营业外收入: stocktake gains (存货盘盈)
NON_OPERATING_EXPENSE = "6711"  # 营业外支出: stocktake losses, write-offs, scrapped defective units (存货盘亏、毁损)
PROFIT_THIS_YEAR = "3103"  # 本年利润 (小企业会计准则 code; 4103 in 企业会计准则): the month-end carry-forward's counterpart
PROFIT_DISTRIBUTION = "3104"  # 利润分配

# (code, name, type, parent code)
STANDARD = [
    (CASH, "库存现金", A, None),
    (BANK, "银行存款", A, None),
    (WALLET, "其他货币资金", A, None),
    (RECEIVABLE, "应收账款", A, None),
    ("1123", "预付账款", A, None),
    ("1221", "其他应收款", A, None),
    (INVENTORY, "库存商品", A, None),
    ("1601", "固定资产", A, None),
    (PAYABLE, "应付账款", L, None),
    ("2203", "预收账款", L, None),
    ("2211", "应付职工薪酬", L, None),
    ("2221", "应交税费", L, None),
    ("2241", "其他应付款", L, None),
    ("3001", "实收资本", E, None),
    (PROFIT_THIS_YEAR, "本年利润", E, None),
    (PROFIT_DISTRIBUTION, "利润分配", E, None),
    (REVENUE, "主营业务收入", R, None),
    (OTHER_INCOME, "其他业务收入", R, None),
    (NON_OPERATING_INCOME, "营业外收入", R, None),
    (COGS, "主营业务成本", X, None),
    ("6403", "税金及附加", X, None),
    (SELLING, "销售费用", X, None),
    (COMMISSION, "销售费用-平台佣金", X, SELLING),
    (SERVICE_FEE, "销售费用-平台服务费", X, SELLING),
    (OTHER_FEE, "销售费用-其他平台费用", X, SELLING),
    ("660104", "销售费用-快递费", X, SELLING),
    ("6602", "管理费用", X, None),
    (FINANCE_COST, "财务费用", X, None),
    (NON_OPERATING_EXPENSE, "营业外支出", X, None),
]

# platform -> (sub-account suffix, name); the same suffix under 1012 and 1122
PLATFORMS = {
    "taobao": ("01", "淘宝/天猫"),
    "jd": ("02", "京东"),
    "pdd": ("03", "拼多多"),
    "own": ("04", "自营商城"),
}
PLATFORM_PARENTS = {WALLET: ("平台钱包", A), RECEIVABLE: ("应收账款", A)}

TYPE_LABELS = {A: _("Asset"), L: _("Liability"), E: _("Equity"), R: _("Revenue"), X: _("Expense")}


def chart_ensure() -> int:
    """Create the standard accounts and the platform sub-accounts that are missing. Returns how many."""
    existing = {a.code: a for a in Account.objects.all()}
    made = 0
    for code, name, type_, parent_code in STANDARD:
        if code not in existing:
            existing[code] = Account.objects.create(code=code, name=name, type=type_,
                                                    parent=existing.get(parent_code) if parent_code else None)
            made += 1
    for platform in PLATFORMS:
        for parent_code in PLATFORM_PARENTS:
            code = platform_account_code(parent_code, platform)
            if code not in existing:
                existing[code] = _platform_account(existing[parent_code], platform)
                made += 1
    return made


def platform_account_code(parent_code: str, platform: str) -> str:
    suffix = PLATFORMS.get(platform, (None,))[0]
    if suffix is None:  # a platform added later: a stable two-digit suffix from its name
        suffix = f"{50 + sum(map(ord, platform)) % 50:02d}"
    return f"{parent_code}{suffix}"


def _platform_account(parent: Account, platform: str) -> Account:
    label = PLATFORMS.get(platform, (None, platform))[1]
    prefix = PLATFORM_PARENTS[parent.code][0]
    return Account.objects.create(code=platform_account_code(parent.code, platform), name=f"{prefix}-{label}",
                                  type=parent.type, parent=parent, platform=platform)


def platform_account(parent_code: str, platform: str) -> Account:
    """The platform's sub-account of 1012 / 1122 (created on first use)."""
    code = platform_account_code(parent_code, platform or "own")
    account = Account.objects.filter(code=code).first()
    if account is None:
        parent = account_by_code(parent_code)  # may create the whole chart, this sub-account included
        account = Account.objects.filter(code=code).first() or _platform_account(parent, platform or "own")
    return account


def account_by_code(code: str) -> Account:
    account = Account.objects.filter(code=code).first()
    if account is None:
        chart_ensure()
        account = Account.objects.get(code=code)
    return account
