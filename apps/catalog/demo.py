"""Realistic-looking generated catalog items: demo data, factories and benchmarks share this."""

from __future__ import annotations

import csv
import io
import random
import string
from collections.abc import Iterator
from typing import Any

DRUG_NAMES = [
    ("阿莫西林胶囊", "胶囊剂", "0.25g"),
    ("头孢克肟片", "片剂", "0.1g"),
    ("盐酸二甲双胍缓释片", "缓释片", "0.5g"),
    ("阿托伐他汀钙片", "片剂", "20mg"),
    ("苯磺酸氨氯地平片", "片剂", "5mg"),
    ("奥美拉唑肠溶胶囊", "肠溶胶囊", "20mg"),
    ("布洛芬缓释胶囊", "缓释胶囊", "0.3g"),
    ("注射用头孢曲松钠", "注射剂", "1.0g"),
    ("甘精胰岛素注射液", "注射剂", "3ml:300单位"),
    ("氯吡格雷片", "片剂", "75mg"),
    ("瑞舒伐他汀钙片", "片剂", "10mg"),
    ("恩替卡韦分散片", "分散片", "0.5mg"),
    ("左氧氟沙星氯化钠注射液", "注射剂", "100ml:0.5g"),
    ("复方丹参滴丸", "滴丸剂", "27mg"),
    ("连花清瘟胶囊", "胶囊剂", "0.35g"),
    ("信迪利单抗注射液", "注射剂", "10ml:100mg"),
    ("达格列净片", "片剂", "10mg"),
    ("利伐沙班片", "片剂", "10mg"),
]
MANUFACTURERS = [
    "华北制药股份有限公司",
    "石药集团欧意药业有限公司",
    "扬子江药业集团有限公司",
    "齐鲁制药有限公司",
    "恒瑞医药股份有限公司",
    "上海医药集团股份有限公司",
    "广州白云山制药股份有限公司",
    "信达生物制药（苏州）有限公司",
]
SERVICE_NAMES = [
    ("一般诊疗费", "次"),
    ("普通门诊诊查费", "次"),
    ("住院诊查费", "日"),
    ("床位费", "日"),
    ("静脉输液", "组"),
    ("血常规检查", "项"),
    ("胸部CT平扫", "次"),
    ("心电图检查", "次"),
    ("彩色多普勒超声检查", "部位"),
    ("阑尾切除术", "次"),
    ("全髋关节置换术", "次"),
    ("血液透析", "次"),
]
CONSUMABLE_NAMES = [
    ("一次性使用无菌注射器", "支"),
    ("一次性使用输液器", "套"),
    ("医用外科口罩", "个"),
    ("冠状动脉药物洗脱支架", "个"),
    ("人工髋关节假体", "套"),
    ("导尿管", "根"),
    ("留置针", "支"),
    ("吻合器", "把"),
    ("骨科固定钢板", "块"),
]
TCM_NAMES = ["黄芪", "当归", "党参", "白术", "茯苓", "甘草", "川芎", "熟地黄", "白芍", "枸杞子", "金银花", "连翘", "陈皮"]
RESTRICTIONS = ["", "", "", "限二级及以上医疗机构使用", "限门诊慢特病患者", "限说明书适应症", "限儿童"]


def drug_code(n: int, rng: random.Random) -> str:
    cls = f"{rng.choice('ABCJLMNR')}{rng.randint(1, 16):02d}{rng.choice(string.ascii_uppercase)}{rng.choice(string.ascii_uppercase)}"
    return f"{rng.choice('XZ')}{cls}{rng.choice('ABCD')}{rng.randint(1, 999):03d}{rng.choice('AB')}{rng.randint(1, 999):03d}{n // 100000:04d}{n % 100000:05d}"


def service_code(n: int) -> str:
    return f"{(n % 40) + 1:02d}{n:013d}"


def consumable_code(n: int, rng: random.Random) -> str:
    path = f"C{rng.randint(1, 20):02d}{rng.randint(1, 9):02d}{rng.randint(1, 9):02d}{rng.randint(1, 200):03d}{rng.randint(1, 9):02d}{rng.randint(1, 99):03d}"
    return f"{path}{n:05d}"[:20] if n < 100000 else f"{path}{n % 100000:05d}{n // 100000:07d}"


def tcm_code(n: int) -> str:
    return f"T{n:09d}"


def generate_items(count: int, *, seed: int = 1, start: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` items, roughly the real mix (54% drugs, 2% services, 40% consumables, 4% TCM).

    Codes are unique within one call for ``start`` + index below 10 million.
    """
    rng = random.Random(seed)
    for index in range(start, start + count):
        bucket = index % 50
        category = rng.choice(["01", "01", "02", "02", "02", "03"])
        item: dict[str, Any] = {"category": category, "restriction_text": rng.choice(RESTRICTIONS), "replaces": []}
        if bucket < 27:
            name, form, spec = rng.choice(DRUG_NAMES)
            item |= {
                "code": drug_code(index, rng),
                "name": name,
                "generic_name": name,
                "dosage_form": form,
                "specification": spec,
                "manufacturer": rng.choice(MANUFACTURERS),
                "unit": "盒",
                "pricing_unit": "片",
            }
            if category == "02":
                item["self_pay_ratio"] = rng.choice(["0.0500", "0.1000", "0.2000"])
        elif bucket < 28:
            name, unit = rng.choice(SERVICE_NAMES)
            item |= {"code": service_code(index), "name": name, "unit": unit, "pricing_unit": unit}
        elif bucket < 48:
            name, unit = rng.choice(CONSUMABLE_NAMES)
            item |= {
                "code": consumable_code(index, rng),
                "name": name,
                "specification": f"{rng.randint(1, 30)}号",
                "manufacturer": rng.choice(MANUFACTURERS),
                "unit": unit,
                "pricing_unit": unit,
            }
        else:
            name = rng.choice(TCM_NAMES)
            item |= {"code": tcm_code(index), "name": name, "specification": "饮片", "unit": "克", "pricing_unit": "克"}
        yield item


def generate_canonical_items(count: int, *, seed: int = 1, start: int = 0) -> Iterator[dict[str, Any]]:
    """``generate_items`` with the columns an import file carries besides: kind and category_path."""
    from apps.core.codes import catalog_code_kind

    from .validation import derived_category_path

    for item in generate_items(count, seed=seed, start=start):
        kind = catalog_code_kind(item["code"])
        yield {**item, "kind": kind, "category_path": derived_category_path(item["code"], kind)}


def canonical_csv(count: int, *, seed: int = 1) -> bytes:
    """A canonical import file of ``count`` generated items, with a header and without the
    optional ``replaces`` column (generated items replace nothing)."""
    from .models import CANONICAL_COLUMNS

    columns = [c for c in CANONICAL_COLUMNS if c != "replaces"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for item in generate_canonical_items(count, seed=seed):
        writer.writerow([item.get(c, "") for c in columns])
    return out.getvalue().encode()
