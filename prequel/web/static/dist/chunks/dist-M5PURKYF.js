import{a,b,c,d}from"./chunk-JJXCNILZ.js";import"./chunk-BB3AODD5.js";import"./chunk-YC2CAGTZ.js";export{d as css,b as cssCompletionSource,c as cssLanguage,a as defineCSSCompletionSource};
